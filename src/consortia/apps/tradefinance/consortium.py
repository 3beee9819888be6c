"""The Greater Bay Area trade-finance consortium: who is on the ``tradefinance`` channel, and what each may hold.

* **Five banks** — in Shenzhen, Guangzhou, Zhuhai (Mainland: jurisdiction ``CN``), Hong Kong (``HK``) and Macau
  (``MO``). Each has a service identity (``client``, role ``service``) and a loan officer (``officer``, role
  ``officer``) who logs in with the demo password. A bank registers trade documents, attests KYC of its customers,
  and finances documents.
* **Four regulators** — PBoC's Shenzhen branch, SAFE, the HKMA and the AMCM. Their people (``examiner``) and
  programs carry the role ``regulator``, which counts only from these four organisations (the contract's
  configuration, :data:`ROLE_ORGS`). A regulator reads every record of the channel, including each bank's private
  files (through the bank's peer, each read decided and logged by the contract), and writes only supervisory flags
  and notes.

**Private data collections** (:data:`COLLECTIONS`):

* :data:`KEY_COLLECTION` (``tf-keys``) — the consortium's fingerprint key, one per epoch. Members: the five banks
  only; regulators never hold it (they see fingerprints, never what was fingerprinted). Reads and writes are
  members-only at the platform level, so a regulator's peer cannot even simulate a read of it.
* :func:`bank_collection` (``tf-bank-<Bank>``) — one per bank: its KYC files, its documents' contents and the
  account references of its disbursements and repayments. Member: that bank alone, so only its peer stores the
  plaintext; the ledger holds salted hashes. Writes are members-only. Reads are *not* members-only at the
  platform level, so that a regulator can read through the bank's peer — the contract decides: the bank itself
  and the regulators may read (each read an ``access`` transaction that is logged), another bank never, and its
  refused attempt is logged on the ledger. Another bank's own peer holds none of the data anyway.

**Endorsement.** ``OutOf(1, <every member's peer>)``: the submitting organisation's own peer endorses (the SDK
prefers it), which is also the only peer that can simulate its private reads — a bank's peer for its documents and
the fingerprint key. The MVCC check at commit is what makes two banks financing one document at once come out as
one winner.

**Read scope** of the channel: its nine members (the default). Blocks carry who submitted each transaction and the
opaque keys it touched — never a document's content, a KYC file or an account.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from consortia.contracts.collections_config import CollectionConfig
from consortia.ledger.config import BatchConfig
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, UserSpec

if TYPE_CHECKING:
    from consortia.network.embedded import EmbeddedNetwork

CHANNEL = "tradefinance"
CONTRACT = "tradefinance"
REFERENCE = "consortia.apps.tradefinance.contract.contract:TradeFinance"

SHENZHEN = "ShenzhenBank"
GUANGZHOU = "GuangzhouBank"
ZHUHAI = "ZhuhaiBank"
HONG_KONG = "HongKongBank"
MACAU = "MacauBank"
BANKS = (SHENZHEN, GUANGZHOU, ZHUHAI, HONG_KONG, MACAU)

PBOC = "PBoCShenzhen"
SAFE = "SAFE"
HKMA = "HKMA"
AMCM = "AMCM"
REGULATORS = (PBOC, SAFE, HKMA, AMCM)
ORGS = BANKS + REGULATORS

LANGUAGES = ("zh-Hans", "zh-Hant", "en")
DISPLAY: dict[str, dict[str, str]] = {
    SHENZHEN: {"zh-Hans": "深圳前海银行", "zh-Hant": "深圳前海銀行", "en": "Shenzhen Qianhai Bank"},
    GUANGZHOU: {"zh-Hans": "广州南沙商业银行", "zh-Hant": "廣州南沙商業銀行", "en": "Guangzhou Nansha Commercial Bank"},
    ZHUHAI: {"zh-Hans": "珠海横琴银行", "zh-Hant": "珠海橫琴銀行", "en": "Zhuhai Hengqin Bank"},
    HONG_KONG: {"zh-Hans": "香港维港银行", "zh-Hant": "香港維港銀行", "en": "Victoria Harbour Bank (Hong Kong)"},
    MACAU: {"zh-Hans": "澳门濠江银行", "zh-Hant": "澳門濠江銀行", "en": "Hou Kong Bank (Macau)"},
    PBOC: {
        "zh-Hans": "中国人民银行深圳市分行",
        "zh-Hant": "中國人民銀行深圳市分行",
        "en": "People's Bank of China, Shenzhen Branch",
    },
    SAFE: {"zh-Hans": "国家外汇管理局", "zh-Hant": "國家外匯管理局", "en": "State Administration of Foreign Exchange"},
    HKMA: {"zh-Hans": "香港金融管理局", "zh-Hant": "香港金融管理局", "en": "Hong Kong Monetary Authority"},
    AMCM: {"zh-Hans": "澳门金融管理局", "zh-Hant": "澳門金融管理局", "en": "Monetary Authority of Macao"},
}
"""Each organisation's name in simplified Chinese, traditional Chinese and English."""

JURISDICTION = {
    SHENZHEN: "CN",
    GUANGZHOU: "CN",
    ZHUHAI: "CN",
    HONG_KONG: "HK",
    MACAU: "MO",
    PBOC: "CN",
    SAFE: "CN",
    HKMA: "HK",
    AMCM: "MO",
}
"""Where each organisation is (ISO 3166 alpha-2): a flow's corridor runs from its bank's place to the counterparty's."""

ZONES = {"CN": "Asia/Shanghai", "HK": "Asia/Hong_Kong", "MO": "Asia/Macau"}


def zone_of(org: str) -> str:
    """The time zone pages show to a viewer of ``org`` (its place decides; Asia/Shanghai when unknown)."""
    return ZONES.get(JURISDICTION.get(org, "CN"), "Asia/Shanghai")


DEMO_PASSWORD = "consortia-demo"
"""Password of the demo people (the same as the other applications')."""

OFFICER = "officer"
EXAMINER = "examiner"
ROLE_ORGS: dict[str, list[str]] = {
    "officer": list(BANKS),
    "service": list(BANKS),
    "regulator": list(REGULATORS),
}
"""Which organisations' certificates may carry each role (the contract's configuration)."""

POLICY = "OutOf(1, " + ", ".join(f"'{org}.peer'" for org in ORGS) + ")"
"""The contract's endorsement policy: the submitting organisation's own peer."""

KEY_COLLECTION = "tf-keys"


def bank_collection(bank: str) -> str:
    """The private collection of one bank's KYC files, document contents and account references."""
    return f"tf-bank-{bank}"


COLLECTIONS = (
    CollectionConfig(KEY_COLLECTION, BANKS, blocks_to_live=0, member_only_read=True, member_only_write=True),
    *(
        CollectionConfig(bank_collection(bank), (bank,), member_only_read=False, member_only_write=True)
        for bank in BANKS
    ),
)


def contract_config() -> dict[str, object]:
    """What :meth:`TradeFinance.init` is told: the banks (with their place and collection), regulators and roles."""
    return {
        "banks": {bank: {"jurisdiction": JURISDICTION[bank], "collection": bank_collection(bank)} for bank in BANKS},
        "regulators": {reg: {"jurisdiction": JURISDICTION[reg]} for reg in REGULATORS},
        "roles": ROLE_ORGS,
        "key_collection": KEY_COLLECTION,
    }


def _users(org: str, passwords: bool) -> tuple[UserSpec, ...]:
    password = DEMO_PASSWORD if passwords else None
    if org in REGULATORS:
        return (
            UserSpec("admin", "admin"),
            UserSpec("client", "client", {"role": "regulator"}),
            UserSpec(EXAMINER, "client", {"role": "regulator"}, password),
        )
    return (
        UserSpec("admin", "admin"),
        UserSpec("client", "client", {"role": "service"}),
        UserSpec(OFFICER, "client", {"role": "officer"}, password),
    )


def org_specs(passwords: bool = True) -> tuple[OrgSpec, ...]:
    """The nine organisations with their programs' and people's identities."""
    return tuple(OrgSpec(org, DISPLAY[org]["en"], _users(org, passwords)) for org in ORGS)


def channel_spec(batch: BatchConfig | None = None) -> ChannelSpec:
    """The ``tradefinance`` channel of the nine organisations; its read scope is its members."""
    return ChannelSpec(CHANNEL, ORGS, batch or BatchConfig(max_transactions=200, timeout_ms=30))


def network_spec(batch: BatchConfig | None = None, passwords: bool = True) -> NetworkSpec:
    """A network holding only the trade-finance consortium (tests, the benchmark)."""
    return NetworkSpec(orgs=org_specs(passwords), channels=(channel_spec(batch),))


def deploy(network: EmbeddedNetwork, orgs: Sequence[str] | None = None) -> None:
    """Deploy the contract with its collections, then initialise it with the first epoch's fingerprint key.

    The key is drawn here, handed to the contract as transient data by the first bank's admin and kept in the
    banks-only collection; it never appears in an argument, an event or a result.
    """
    network.deploy(CHANNEL, REFERENCE, policy=POLICY, collections=list(COLLECTIONS), orgs=orgs)
    admin = network.gateway(BANKS[0], "admin").network(CHANNEL).contract(CONTRACT)
    result = admin.submit("init", contract_config(), transient={"key": os.urandom(32)})
    network.wait_for_height(CHANNEL, result.block + 1)


def is_deployed(network: EmbeddedNetwork) -> bool:
    """Whether the channel exists and the contract is committed on it."""
    try:
        orgs = network.spec.channel(CHANNEL).orgs
    except KeyError:
        return False
    return network.peers[orgs[0]].channel(CHANNEL).definition(CONTRACT) is not None
