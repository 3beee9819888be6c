"""Joining a channel from a snapshot instead of from block 0; and writing the snapshot a member peer vouches for.

A peer of a new organisation joining a channel with a long history can start from a snapshot
(:mod:`consortia.ledger.snapshot`) taken by a member peer at height ``h``, then pull only blocks ``h`` onwards.
It trusts nothing in the file on its word:

1. the manifest's signature verifies under the certificate it names (:func:`~consortia.ledger.snapshot.read_snapshot`),
   and every part's SHA-256 is the one the manifest lists — a changed byte is refused, naming the part;
2. that certificate belongs to a *peer of a member organisation* of the channel configuration the snapshot
   carries (and that configuration is the one in the snapshot's state);
3. the snapshot's header of block ``h - 1`` is the header the ordering service serves for that block (compared by
   hash), and that block's orderer signature verifies under the ordering organisations of the configuration in
   force when it was cut — so the height, the history root and, through the chain, everything before are what the
   orderers signed;
4. the history frontier's root is that header's ``history_root``.

Only then is the channel's directory laid out — block store starting at ``h``, history tree seeded from the
frontier, state database filled with the snapshot's rows at height ``h``, and a copy of the snapshot itself for
later audits (:func:`~consortia.ledger.snapshot.joined_snapshot`) — in a temporary directory renamed into place,
so a refused or interrupted join leaves nothing behind. :class:`~consortia.peer.channel.PeerChannel` then
opens the directory like any other and receives block ``h`` next; blocks before ``h`` are absent on this peer and
reading one says so. The state rows themselves are vouched for by the signing member peer (as in Hyperledger
Fabric, where a snapshot is trusted by the peers of the organisations that produced it); the new peer's state
digest can be compared with the others' at any later height.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from consortia.channel.rules import ChannelRules, ConfigError, rules_from_config
from consortia.channel.update import CONFIG_KEY, CONFIG_NAMESPACE, ConfigRecord, now_ms, read_record
from consortia.identity import Kind, MembershipError, SigningIdentity
from consortia.identity.batch import verify_one
from consortia.ledger.block import Block, BlockHeader, header_hash, header_signing_bytes
from consortia.ledger.config import ChannelConfig
from consortia.ledger.encoding import MalformedError, decode_canonical
from consortia.ledger.ledger import LedgerError, prepare_from_snapshot
from consortia.ledger.snapshot import (
    JOINED_SNAPSHOT_FILE,
    Manifest,
    Snapshot,
    SnapshotContents,
    SnapshotError,
    export_ledger,
    read_snapshot,
    write_snapshot,
)
from consortia.ledger.statedb import StateDB

OrdererBlock = Callable[[int], bytes]
"""Fetch block ``number`` of the channel from the ordering service (its canonical bytes)."""


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot a peer joined from: which channel, up to which height, vouched for by whom."""

    file: Path
    channel: str
    height: int
    last_header_hash: str
    history_size: int
    signer: str
    """``Org/name`` of the peer that signed the manifest."""
    config_version: int


def _config_record(contents: SnapshotContents) -> ConfigRecord | None:
    """The configuration record in the snapshot's state rows (MalformedError if unreadable), or None."""
    for row in contents.tables["state"]:
        if row[0] == CONFIG_NAMESPACE and row[1] == CONFIG_KEY:
            return read_record(row[2].encode() if isinstance(row[2], str) else row[2])
    return None


def create_snapshot(channel_dir: Path, identity: SigningIdentity, out: Path) -> Manifest:
    """Write a snapshot of the peer ledger in ``channel_dir`` at its committed height to ``out``, signed by identity.

    Raises LedgerError when the directory holds no usable ledger, SnapshotError when the file cannot be written.
    """
    exported = export_ledger(channel_dir)
    contents = SnapshotContents(
        channel=exported.header.channel,
        height=exported.height,
        header=exported.header,
        frontier=exported.frontier,
        config=b"",
        tables=exported.tables,
    )
    try:
        record = _config_record(contents)
    except MalformedError as exc:
        raise LedgerError(f"{channel_dir}: {exc}") from None
    if record is None:
        raise LedgerError(f"{channel_dir}: the state holds no configuration record ({CONFIG_NAMESPACE}/{CONFIG_KEY})")
    contents = dataclasses.replace(contents, config=record.config)
    try:
        return write_snapshot(Path(out), contents, identity, now_ms())
    except OSError as exc:
        raise SnapshotError(Path(out), f"cannot be written: {exc.strerror or exc}") from None


def _rules_at(snapshot: Snapshot, config: ChannelConfig, set_by: int, number: int) -> ChannelRules:
    """The rules that judged block ``number``: the configuration in force before it (a later one takes effect after
    the block that carries it; the genesis block is judged by its own)."""
    if set_by < number or number == 0:
        return rules_from_config(config)
    earlier = [
        row
        for row in snapshot.contents.tables["history"]
        if row[0] == CONFIG_NAMESPACE and row[1] == CONFIG_KEY and row[2] < number and row[5] is not None
    ]
    if not earlier:
        raise SnapshotError(snapshot.path, f"no configuration in force before block {number} in the key history")
    value = max(earlier, key=lambda row: (row[2], row[3]))[5]
    record = read_record(value.encode() if isinstance(value, str) else value)
    return rules_from_config(decode_canonical(record.config, ChannelConfig))


def _check_against_orderer(snapshot: Snapshot, rules: ChannelRules, orderer_block: OrdererBlock) -> None:
    header: BlockHeader = snapshot.contents.header
    number = header.number
    try:
        served = decode_canonical(orderer_block(number), Block)
    except MalformedError as exc:
        raise SnapshotError(snapshot.path, f"the ordering service's block {number} is unreadable: {exc}") from None
    except Exception as exc:  # whatever the transport raised: the join cannot be checked, so it does not happen
        raise SnapshotError(
            snapshot.path, f"cannot fetch block {number} from the ordering service to check the snapshot: {exc}"
        ) from None
    ours, theirs = header_hash(header).hex(), header_hash(served.header).hex()
    if ours != theirs:
        raise SnapshotError(
            snapshot.path,
            f"its header of block {number} (hash {ours}) is not the one the ordering service serves at height "
            f"{number + 1} (hash {theirs})",
        )
    try:
        info = rules.orderers.validate(served.orderer, at_ms=served.header.timestamp_ms, kinds={Kind.ORDERER})
    except MembershipError as exc:
        raise SnapshotError(snapshot.path, f"block {number} from the ordering service: signer: {exc.message}") from None
    if not verify_one(info.public_key, header_signing_bytes(served.header), served.signature):
        raise SnapshotError(
            snapshot.path, f"block {number} from the ordering service: the orderer signature does not verify"
        )


def check_snapshot(snapshot_file: Path, channel: str, orderer_block: OrdererBlock) -> Snapshot:
    """Read a snapshot and make every check a joining peer makes (SnapshotError naming the file if one fails)."""
    snapshot = read_snapshot(Path(snapshot_file))
    path = snapshot.path
    contents = snapshot.contents
    if contents.channel != channel:
        raise SnapshotError(path, f"is a snapshot of channel {contents.channel!r}, not {channel!r}")
    try:
        config = decode_canonical(contents.config, ChannelConfig)
        record = _config_record(contents)
    except MalformedError as exc:
        raise SnapshotError(path, f"the channel configuration is unreadable: {exc}") from None
    if record is None or record.config != contents.config:
        raise SnapshotError(path, "the configuration part is not the configuration in the snapshot's state")
    if config.name != channel:
        raise SnapshotError(path, f"its configuration is of channel {config.name!r}, not {channel!r}")
    try:
        rules = rules_from_config(config)
        manifest = snapshot.manifest
        rules.members.validate(manifest.signer_certificate, at_ms=manifest.created_ms, kinds={Kind.PEER})
        block_rules = _rules_at(snapshot, config, record.block, contents.header.number)
    except MembershipError as exc:
        raise SnapshotError(
            path, f"signed by {snapshot.signer.describe()}, not a peer of a member of {channel!r}: {exc.message}"
        ) from None
    except (ConfigError, MalformedError) as exc:
        raise SnapshotError(path, f"the channel configuration cannot be used: {exc}") from None
    _check_against_orderer(snapshot, block_rules, orderer_block)
    return snapshot


def join_from_snapshot(snapshot_file: Path, channel_dir: Path, orderer_block: OrdererBlock) -> SnapshotInfo:
    """Check a snapshot and lay out ``channel_dir`` (named after the channel) so that a PeerChannel opens it at the
    snapshot's height; raise SnapshotError naming the file (and change nothing) if any check fails."""
    channel_dir = Path(channel_dir)
    snapshot_file = Path(snapshot_file)
    if channel_dir.exists() and any(channel_dir.iterdir()):
        raise SnapshotError(snapshot_file, f"{channel_dir} already holds a ledger; a snapshot joins a new peer only")
    snapshot = check_snapshot(snapshot_file, channel_dir.name, orderer_block)
    contents = snapshot.contents
    staging = channel_dir.with_name(f".{channel_dir.name}.joining")
    if staging.exists():
        shutil.rmtree(staging)  # left by a join that was interrupted: nothing in it was ever opened
    try:
        prepare_from_snapshot(staging, contents.header, contents.frontier)
        # Kept so that an audit (consortia verify) can start where this peer did (ledger.snapshot.joined_snapshot).
        shutil.copyfile(snapshot.path, staging / JOINED_SNAPSHOT_FILE)
        state = StateDB(staging / "state.sqlite")
        try:
            state.import_rows(contents.height, contents.tables)
        except ValueError as exc:
            raise SnapshotError(snapshot.path, f"the state rows cannot be loaded: {exc}") from None
        finally:
            state.close()
        if channel_dir.exists():
            channel_dir.rmdir()
        staging.rename(channel_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    config = decode_canonical(contents.config, ChannelConfig)
    return SnapshotInfo(
        file=snapshot.path,
        channel=contents.channel,
        height=contents.height,
        last_header_hash=snapshot.manifest.last_header_hash,
        history_size=contents.frontier.size,
        signer=f"{snapshot.signer.org}/{snapshot.signer.name}",
        config_version=config.version,
    )
