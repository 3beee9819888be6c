"""The configuration an orderer holds in force: the genesis one, then each valid configuration block's.

The ordering service must follow configuration updates as peers do: which orderer certificates may sign blocks,
who may submit envelopes and pull blocks, and the block cutter's batch settings all change from the block after a
valid configuration block. An orderer has no state database, so it judges each configuration block it stores
(its own or one copied from another orderer) with the same function peers use,
:func:`consortia.channel.update.judge_envelope`, at the block's timestamp — so orderers and peers always agree
on which version is in force — and keeps the latest record in a small file next to its block store. On start it
reads that file and re-judges only the blocks stored after it (a crash may fall between the two writes).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

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
from consortia.ledger.config import ChannelConfig
from consortia.ledger.encoding import MalformedError, decode

log = logging.getLogger(__name__)

RECORD_FILE = "config.json"


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
        self._save()
        log.info("channel %s: configuration version %d in force", self.config.name, self.config.version)
        return True

    def _save(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_bytes(encode_record(self.record))
        os.replace(temporary, self.path)

    def may_read(self, org: str) -> bool:
        """Whether ``org`` may pull this channel's blocks: a member or an ordering organisation now."""
        return org in self.config.org_ids() or any(o.msp_id == org for o in self.config.orderer.organisations)


def refusal_message(refused: ConfigRefused) -> str:
    """How an ordering service words a refused configuration update: the reason code first."""
    return f"{refused.code.name}: {refused.message}"
