"""The configuration an orderer holds in force: the genesis one, then each valid configuration block's.

The ordering service must follow configuration updates as peers do: which orderer certificates may sign blocks,
who may submit envelopes and pull blocks, and the block cutter's batch settings all change from the block after a
valid configuration block. An orderer has no state database, so it judges each configuration block it stores
(its own or one copied from another orderer) with the same function peers use,
:func:`consortia.channel.update.judge_envelope`, at the block's timestamp — so orderers and peers always agree
on which version is in force — and keeps the latest record in a small file next to its block store. On start it
reads that file and re-judges only the blocks stored after it (a crash may fall between the two writes).

It also remembers, for each version, from which block it applies and which organisations may read blocks under
it, so that delivery is exact: a member reads the whole chain (a new one validates from block 0), and an
organisation removed by the configuration block *b* receives blocks up to and including *b* (the block that
removed it, judged under the version before) and none after.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import msgspec

from consortia.channel.rules import ChannelRules, read_genesis, rules_from_config
from consortia.channel.update import (
    AcceptedUpdate,
    ConfigRecord,
    ConfigRefused,
    encode_record,
    genesis_record,
    is_config_block,
    judge_envelope,
    read_record,
    record_config,
    record_of,
)
from consortia.ledger.block import Block
from consortia.ledger.blockstore import BlockStore
from consortia.ledger.codes import Code
from consortia.ledger.config import ChannelConfig
from consortia.ledger.encoding import MalformedError, decode

log = logging.getLogger(__name__)

RECORD_FILE = "config.json"
READERS_FILE = "config-readers.json"


class ReaderPeriod(msgspec.Struct, array_like=True, frozen=True):
    """From block ``first`` on (until the next period), these organisations may read the channel's blocks."""

    first: int
    orgs: tuple[str, ...]


def _readers(config: ChannelConfig) -> tuple[str, ...]:
    return tuple(sorted({*config.org_ids(), *(o.msp_id for o in config.orderer.organisations)}))


class ConfigTracker:
    """The configuration in force at the tip of one orderer's copy of a channel."""

    def __init__(self, directory: Path, store: BlockStore) -> None:
        self.path = Path(directory) / RECORD_FILE
        genesis = decode(store.read(0), Block)
        config, transaction = read_genesis(genesis)
        record = genesis_record(config, transaction, genesis.header.timestamp_ms)
        saved = self._load()
        if saved is not None and saved.block < store.height:
            record = saved
        self.record: ConfigRecord = record
        self.config: ChannelConfig = record_config(record)
        self.rules: ChannelRules = rules_from_config(self.config)
        self.readers_path = Path(directory) / READERS_FILE
        self.periods: list[ReaderPeriod] = self._load_periods(config)
        for number in range(record.block + 1, store.height):
            self.observe(decode(store.read(number), Block))

    def _load(self) -> ConfigRecord | None:
        try:
            return read_record(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except MalformedError as exc:
            log.warning("%s is unreadable (%s); re-reading the configuration from the blocks", self.path, exc)
            return None

    def _load_periods(self, genesis: ChannelConfig) -> list[ReaderPeriod]:
        first = [ReaderPeriod(0, _readers(genesis))]
        try:
            periods = msgspec.json.decode(self.readers_path.read_bytes(), type=list[ReaderPeriod])
        except FileNotFoundError:
            periods = first
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("%s is unreadable (%s); starting from the genesis members", self.readers_path, exc)
            periods = first
        # Keep only what the configuration record vouches for; later blocks are observed again.
        kept = [p for p in periods if p.first <= self.record.block + 1] or first
        if kept[-1].orgs != _readers(self.config):
            kept.append(ReaderPeriod(self.record.block + 1, _readers(self.config)))
        return kept

    def judge(self, envelope: bytes, at_ms: int) -> AcceptedUpdate:
        """Judge a configuration envelope under the configuration in force (raises ConfigRefused)."""
        return judge_envelope(self.rules, envelope, at_ms)

    def observe(self, block: Block) -> bool:
        """Follow a block just stored: if it is a valid configuration block, its version is now in force."""
        if not is_config_block(block):
            return False
        try:
            update = self.judge(block.transactions[0], block.header.timestamp_ms)
        except ConfigRefused as refused:
            log.warning(
                "channel %s: block %d holds a refused update: %s", self.config.name, block.header.number, refused
            )
            return False
        self.record = record_of(update, block.header.number, block.header.timestamp_ms)
        self.config, self.rules = update.config, update.rules
        readers = _readers(update.config)
        if readers != self.periods[-1].orgs:
            self.periods.append(ReaderPeriod(block.header.number + 1, readers))
        self._save()
        log.info("channel %s: configuration version %d in force", self.config.name, self.config.version)
        return True

    def _save(self) -> None:
        # The reader periods first: a record never points past the periods that explain it.
        temporary = self.readers_path.with_suffix(".tmp")
        temporary.write_bytes(msgspec.json.encode(self.periods))
        os.replace(temporary, self.readers_path)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_bytes(encode_record(self.record))
        os.replace(temporary, self.path)

    def may_read(self, org: str, number: int | None = None) -> bool:
        """Whether ``org`` may pull block ``number`` (default: any next one).

        A member now reads the whole chain (a new member validates from block 0); an organisation that left reads
        the blocks cut before its removal took effect, and nothing after.
        """
        last = max((index for index, period in enumerate(self.periods) if org in period.orgs), default=None)
        if last is None:
            return False
        if last == len(self.periods) - 1:
            return True
        return number is not None and number < self.periods[last + 1].first


def refusal_message(refused: ConfigRefused) -> str:
    """How an ordering service words a refused configuration update: the reason code first."""
    return f"{refused.code.name}: {refused.message}"


def refusal_status(refused: ConfigRefused) -> int:
    """The HTTP-like status of a refused update: 403 when not signed enough, 400 when the update itself is wrong."""
    return 403 if refused.code == Code.CONFIG_POLICY_FAILURE else 400
