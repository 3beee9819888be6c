"""The AML consortium: who is on the ``aml`` channel, with which roles, and what each organisation may hold.

* **AtlanticBank** — the US bank that opens USD-only, US-only cash-management accounts for crypto exchanges. Its
  people carry the role ``analyst`` (alert queue, cases, evidence) or ``bsa_officer`` (the BSA officer: decisions,
  filings, deadlines); its core-banking program (``client``, role ``service``) posts the accounts' transactions.
* **BlueRiverExchange**, **SummitExchange** — two crypto exchanges (money services businesses registered with
  FinCEN) holding accounts at the bank. Their compliance people (role ``exchange``) see their own accounts and
  transactions, nothing else: never another exchange's accounts, never an alert, a case or a filing — not even
  about themselves (a SAR must not be disclosed to its subject, 31 USC 5318(g)(2)).
* **BankExaminers** — the bank's examiners (role ``examiner``): read everything, write nothing but examination
  notes.

**Where the data lives** (:data:`COLLECTIONS`). An exchange's peer is a member of the channel, so it holds every
block and the whole public state: nothing about alerts, cases, filings or onboarding may be there. So

* public state holds only the contract's configuration (organisations and roles) and the log of refusals (who was
  refused which function, when — never what they asked for or why, which the bank's collection keeps);
* :data:`BANK_COLLECTION` (``aml-bank``, members: the bank and the examiners) holds the onboarding records and
  approvals, policy violations, alerts, cases and their steps, filings (with their hashes and XML), examination
  notes, what each refused request asked for, and the audit trail's index; only the bank's and the examiners'
  peers keep the plaintext;
* :func:`account_collection` (``aml-acct-<Exchange>``, members: the bank, that exchange and the examiners) holds
  that exchange's accounts and their transactions. Reads are members-only at the platform level, so another
  exchange's peer holds none of it and cannot even simulate a read.

Blocks carry opaque keys and salted hashes; every piece of content travels to the contract as transient data,
never as an argument, event or result a reader of the channel could see.

**Read scope** (:data:`READERS`): through the gateway only the bank's people and programs and the examiners read the
channel's blocks; an exchange reads its accounts through the contract, which checks who is asking.

**Endorsement** (:data:`POLICY`): ``OR('AtlanticBank.peer', 'BankExaminers.peer')`` — the only peers that hold the
bank's collection and can therefore simulate the contract's reads of it.

**Onboarding approval** (:data:`APPROVAL_POLICY`) is an endorsement policy over *roles*: an analyst and the BSA
officer of the bank, two different people, each approving the same version of the record in their own signed
transaction; the contract decides with the platform's policy evaluator over the approvers' identities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from consortia.contracts.collections_config import CollectionConfig
from consortia.ledger.config import BatchConfig
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec, UserSpec

if TYPE_CHECKING:
    from consortia.network.embedded import EmbeddedNetwork

CHANNEL = "aml"
CONTRACT = "aml"
REFERENCE = "consortia.apps.aml.contract.contract:Aml"

BANK = "AtlanticBank"
BLUE_RIVER = "BlueRiverExchange"
SUMMIT = "SummitExchange"
EXCHANGES = (BLUE_RIVER, SUMMIT)
EXAMINERS = "BankExaminers"
ORGS = (BANK, *EXCHANGES, EXAMINERS)

DISPLAY = {
    BANK: "Atlantic Commerce Bank, N.A.",
    BLUE_RIVER: "Blue River Digital Exchange, Inc.",
    SUMMIT: "Summit Crypto Exchange LLC",
    EXAMINERS: "Bank examiners (OCC)",
}
"""Each organisation's name as pages show it."""

ZONE = "America/New_York"
"""The bank's zone: every time on a page is shown here, the zone named."""

DEMO_PASSWORD = "consortia-demo"
"""Password of the demo people (the same as the other applications')."""

ANALYST = "analyst"
BSA_OFFICER = "bsa_officer"
EXAMINER = "examiner"
EXCHANGE_ROLE = "exchange"
SERVICE = "service"

ANALYST_USER = "analyst"
SECOND_ANALYST_USER = "analyst2"
BSA_OFFICER_USER = "bsa"
EXAMINER_USER = "examiner"
COMPLIANCE_USER = "compliance"

ROLE_ORGS: dict[str, list[str]] = {
    ANALYST: [BANK],
    BSA_OFFICER: [BANK],
    SERVICE: [BANK],
    EXAMINER: [EXAMINERS],
    EXCHANGE_ROLE: list(EXCHANGES),
}
"""Which organisations' certificates may carry each role (the contract's configuration)."""

APPROVAL_POLICY = f"AND('{BANK}.role:{ANALYST}','{BANK}.role:{BSA_OFFICER}')"
"""Onboarding approval: an analyst and the BSA officer of the bank — two different people, by the platform's role
principals (``'Org.role:NAME'``: an identity of Org whose certificate's ``role`` attribute is NAME)."""

POLICY = f"OR('{BANK}.peer', '{EXAMINERS}.peer')"
"""The contract's endorsement policy: a peer that holds the bank's collection."""

READERS = (
    f"{BANK}:admin",
    f"{BANK}:{ANALYST}",
    f"{BANK}:{BSA_OFFICER}",
    f"{BANK}:{SERVICE}",
    f"{EXAMINERS}:admin",
    f"{EXAMINERS}:{EXAMINER}",
)
"""The channel's read scope through the gateway: the bank and the examiners, never an exchange."""

BANK_COLLECTION = "aml-bank"


def account_collection(exchange: str) -> str:
    """The private collection of one exchange's accounts and transactions."""
    return f"aml-acct-{exchange}"


COLLECTIONS = (
    # Writes are not members-only at the platform level: the contract logs an exchange's refused request here too
    # (the contract decides every write; an exchange never reads it).
    CollectionConfig(BANK_COLLECTION, (BANK, EXAMINERS), member_only_read=True, member_only_write=False),
    *(
        CollectionConfig(account_collection(ex), (BANK, ex, EXAMINERS), member_only_read=True, member_only_write=True)
        for ex in EXCHANGES
    ),
)


def contract_config() -> dict[str, object]:
    """What :meth:`Aml.init` is told: the bank, the exchanges (with their collections), examiners and roles."""
    return {
        "bank": BANK,
        "bank_collection": BANK_COLLECTION,
        "exchanges": {ex: {"collection": account_collection(ex), "name": DISPLAY[ex]} for ex in EXCHANGES},
        "examiners": [EXAMINERS],
        "roles": ROLE_ORGS,
        "approval_policy": APPROVAL_POLICY,
    }


def _users(org: str, passwords: bool) -> tuple[UserSpec, ...]:
    password = DEMO_PASSWORD if passwords else None
    admin = UserSpec("admin", "admin")
    if org == BANK:
        return (
            admin,
            UserSpec("client", "client", {"role": SERVICE}),
            UserSpec(ANALYST_USER, "client", {"role": ANALYST}, password),
            UserSpec(SECOND_ANALYST_USER, "client", {"role": ANALYST}, password),
            UserSpec(BSA_OFFICER_USER, "client", {"role": BSA_OFFICER}, password),
        )
    if org == EXAMINERS:
        return (admin, UserSpec(EXAMINER_USER, "client", {"role": EXAMINER}, password))
    return (
        admin,
        UserSpec("client", "client", {"role": EXCHANGE_ROLE}),
        UserSpec(COMPLIANCE_USER, "client", {"role": EXCHANGE_ROLE}, password),
    )


def org_specs(passwords: bool = True) -> tuple[OrgSpec, ...]:
    """The four organisations with their programs' and people's identities."""
    return tuple(OrgSpec(org, DISPLAY[org], _users(org, passwords)) for org in ORGS)


def channel_spec(batch: BatchConfig | None = None) -> ChannelSpec:
    """The ``aml`` channel of the four organisations; through the gateway only the bank and examiners read it."""
    return ChannelSpec(CHANNEL, ORGS, batch or BatchConfig(max_transactions=200, timeout_ms=30), readers=READERS)


def network_spec(batch: BatchConfig | None = None, passwords: bool = True) -> NetworkSpec:
    """A network holding only the AML consortium (tests)."""
    return NetworkSpec(orgs=org_specs(passwords), channels=(channel_spec(batch),))


def deploy(network: EmbeddedNetwork, orgs: Sequence[str] | None = None) -> None:
    """Deploy the contract with its collections and initialise it (by the bank's admin)."""
    network.deploy(CHANNEL, REFERENCE, policy=POLICY, collections=list(COLLECTIONS), orgs=orgs)
    admin = network.gateway(BANK, "admin").network(CHANNEL).contract(CONTRACT)
    result = admin.submit("init", contract_config())
    network.wait_for_height(CHANNEL, result.block + 1)


def is_deployed(network: EmbeddedNetwork) -> bool:
    """Whether the channel exists and the contract is committed on it."""
    try:
        orgs = network.spec.channel(CHANNEL).orgs
    except KeyError:
        return False
    return network.peers[orgs[0]].channel(CHANNEL).definition(CONTRACT) is not None
