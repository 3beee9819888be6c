"""The ``tradefinance`` contract: trader registry, KYC attestations, document fingerprints, financing, oversight.

**No document content on the ledger.** A bank's documents reach the contract only as *transient data*
(:func:`.codec.document_from_json`), are stored in the bank's own private collection (plaintext on its peer
only, salted hashes on the ledger), and are represented in public state by *keyed fingerprints*: HMAC-SHA-256
under the consortium key of the current and every still-live epoch
(:func:`~consortia.apps.tradefinance.domain.fingerprint.fingerprints`), several per document over different field
subsets, so that a copy disguised on some fields still meets its original. The key lives in the banks-only
collection ``tf-keys``: the contract reads it on the submitting bank's peer and never returns it, emits it or
writes it to public state. Regulators see fingerprints and statuses, never what was fingerprinted.

Public state (every channel member reads it; nothing commercial):

* ``config`` — banks (place, collection), regulators, the roles and which organisations may carry them;
  ``keys`` — the live key epochs and the current one;
* ``trader:<KIND:value>`` — the shared registry: identifier, names (zh-Hans, zh-Hant, en, pt), aliases;
* ``kyc:<KIND:value>:<bank>`` — an attestation: bank, trader, level, date, expiry, salted hash of the file,
  revoked;
* ``doc:<ref>`` — a registration: bank, document type, status (REGU REDU DFIN FNCD CANC), fingerprint keys,
  near-duplicate hits (risk and reasons only), financing id;
* ``fp:<epoch>:<hex>`` — a fingerprint: the registrations that carry it and the financing that claimed it;
  ``sim:<epoch>:<hex>`` — a near-duplicate bucket: the registrations in it, with keyed traits (:func:`traits`);
* ``fin:<id>`` — a financing: bank, document, trader, amount, currency, state and its steps;
  ``flow:<id>:<n>`` — a disbursement or repayment: currency, amount, counterparty country, purpose, corridor;
* ``access:<tx>`` — a decided read of private data; ``refusal:<tx>`` — a refused read or write (who, what, why);
  ``flag:<tx>`` — a regulator's supervisory flag or note.

Private state: ``tf-keys`` holds ``key:<epoch>``; each bank's collection holds ``doc:<ref>`` (the document and its
CSV row), ``kyc:<KIND:value>`` (the KYC file and its salt) and ``acct:<id>:<n>`` (the account reference of a flow).

**Refusals are committed.** A submitted function that refuses does not raise: it writes a ``refusal:<tx>`` record
(who, which function, which record, why, a machine code) and returns ``{"refused": …, "code": …}``, so the refusal
is on the ledger. Reads of private data are transactions too (:meth:`TradeFinance.access`, logged whether allowed
or refused); :meth:`TradeFinance.read_private` then answers only a permitted access of the same caller, on the
owning bank's peer. Two banks financing one document at once both read its fingerprint records and both write
them: the one ordered second fails MVCC validation, and its retry is refused with DFIN.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from consortia.apps.tradefinance.contract.codec import CodecError, document_from_json
from consortia.apps.tradefinance.domain.fingerprint import fingerprints, similarity_keys
from consortia.apps.tradefinance.domain.identifiers import parse_trader_id
from consortia.apps.tradefinance.domain.normalise import InvalidField, normalise_doc_number
from consortia.contracts import Context, Contract, ContractError, evaluate, submit
from consortia.ledger.encoding import parse_json

REGU, REDU, DFIN, FNCD, CANC = "REGU", "REDU", "DFIN", "FNCD", "CANC"
MAX_DOCUMENTS = 500
ACCESS_TTL_MS = 15 * 60 * 1000
KYC_LEVELS = ("simplified", "standard", "enhanced")
ACCESS_KINDS = ("document", "documents", "kyc", "accounts")
BANK_ROLES = ("officer", "service")
NAME_LANGUAGES = ("zh-Hans", "zh-Hant", "en", "pt")
COUNTRY = re.compile(r"^[A-Z]{2}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
PURPOSE = re.compile(r"^[A-Za-z0-9]{1,12}$")
AMOUNT = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,4})?$")
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
REF = re.compile(r"^[0-9a-f]{16}-[0-9]{3}$")
FIN_ID = re.compile(r"^F[0-9a-f]{20}$")
TX_ID = re.compile(r"^[0-9a-f]{64}$")
STATES = ("applied", "approved", "disbursed", "settled", "defaulted")
REASONS = {
    "same_parties": "same document type, seller, buyer and currency",
    "same_amount": "the same amount",
    "amount_close": "amounts close (within the near-duplicate tolerance)",
    "same_date": "the same issue date",
    "dates_close": "issue dates close (within the near-duplicate tolerance)",
    "numbers_alike": "document numbers with the same digits",
}
"""Near-duplicate reason codes the contract answers with, and their message (pages translate by the code)."""
ANOTHER_BANK = "another member bank"
KIND_COUNTRY = {"USCC": "CN", "HKBR": "HK", "MOCR": "MO"}
"""Where a trader's registry is: a financing's trade corridor runs from its seller's place to its buyer's."""


def traits(key: bytes, epoch: int, document: Any) -> dict[str, str]:
    """Keyed hashes of single fields, stored with a near-duplicate bucket entry so that the contract can say *why*
    two documents look alike (same amount? same date? numbers alike?) without either document's content."""

    def mac(name: str, value: str) -> str:
        message = f"tf-trait\x00{epoch}\x00{name}\x00{value}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]

    number = normalise_doc_number(document.doc_number)
    return {
        "amount": mac("amount", f"{format(document.amount.normalize(), 'f')} {document.currency}"),
        "date": mac("date", document.issue_date.isoformat()),
        "digits": mac("digits", re.sub(r"\D", "", number) or number),
    }


def compare_traits(mine: dict[str, str], other: dict[str, str]) -> tuple[str, list[str]]:
    """Risk class and reasons of two documents met in one near-duplicate bucket."""
    reasons = ["same_parties"]
    reasons.append("same_amount" if mine["amount"] == other["amount"] else "amount_close")
    reasons.append("same_date" if mine["date"] == other["date"] else "dates_close")
    score = int(mine["amount"] == other["amount"]) + int(mine["date"] == other["date"])
    if mine["digits"] == other["digits"]:
        reasons.append("numbers_alike")
        score += 1
    return ("high" if score >= 2 else "medium" if score == 1 else "low"), reasons


def _iso(ctx: Context) -> str:
    return ctx.timestamp.date().isoformat()


def _transient_json(ctx: Context, name: str, what: str) -> Any:
    raw = ctx.transient.get(name)
    if raw is None:
        raise ContractError(f"give {what} as transient data {name!r}: it never travels as an argument")
    try:
        return parse_json(raw)
    except ValueError as exc:
        raise ContractError(f"transient {name!r} must be JSON ({what}): {exc}") from None


def _amount(value: Any, what: str = "amount") -> str:
    if not isinstance(value, str) or not AMOUNT.match(value) or float(value) <= 0:
        raise ContractError(f"{what} must be a positive decimal as text (up to 4 decimals), not {value!r}")
    return value


def _currency(value: Any) -> str:
    if not isinstance(value, str) or not CURRENCY.match(value):
        raise ContractError(f"currency must be an ISO 4217 code such as CNY, not {value!r}")
    return value


def _cents(value: str) -> int:
    """An amount in ten-thousandths (integer arithmetic: the same on every peer)."""
    whole, _, fraction = value.partition(".")
    return int(whole) * 10000 + int((fraction + "0000")[:4])


def _from_cents(value: int) -> str:
    whole, fraction = divmod(value, 10000)
    return f"{whole}.{fraction:04d}".rstrip("0").rstrip(".") if fraction else str(whole)


class _Call:
    """One function call: the configuration and who is calling, as this contract recognises them."""

    def __init__(self, ctx: Context, function: str) -> None:
        self.ctx = ctx
        self.function = function
        config = ctx.get_state("config")
        if config is None:
            raise ContractError(
                "the contract is not initialised (init with the consortium's configuration)", code="CONFLICT"
            )
        self.config: dict[str, Any] = config

    @property
    def who(self) -> str:
        """``org/name`` of the caller."""
        return self.ctx.caller.id

    @property
    def org(self) -> str:
        """The caller's organisation."""
        return self.ctx.caller.org

    def role_counts(self, role: str) -> bool:
        """Whether the caller carries ``role`` from an organisation allowed to issue it."""
        return self.ctx.caller.role == role and self.org in self.config["roles"].get(role, [])

    @property
    def bank(self) -> str | None:
        """The caller's bank when the caller acts for it (its admin, officers or service), else None."""
        if self.org not in self.config["banks"]:
            return None
        if self.ctx.caller.kind == "admin" or any(self.role_counts(role) for role in BANK_ROLES):
            return self.org
        return None

    @property
    def regulator(self) -> bool:
        """Whether the caller is a regulator (role ``regulator`` from a regulator organisation)."""
        return self.org in self.config["regulators"] and self.role_counts("regulator")

    def collection(self, bank: str) -> str:
        """The private collection of ``bank``."""
        return self.config["banks"][bank]["collection"]

    def refuse(self, target: str, reason: str, code: str = "FORBIDDEN") -> dict[str, Any]:
        """Log a refusal on the ledger (who, what, why — no content) and return it as the function's answer."""
        ctx = self.ctx
        record = {
            "who": self.who,
            "org": self.org,
            "role": ctx.caller.role or ctx.caller.kind,
            "function": self.function,
            "target": target,
            "reason": reason,
            "code": code,
            "at": ctx.timestamp_ms,
            "tx": ctx.tx_id,
        }
        ctx.put_state(f"refusal:{ctx.tx_id}", record)
        ctx.set_event("refused", {"function": self.function, "target": target, "code": code})
        return {"refused": reason, "code": code, "tx_id": ctx.tx_id}

    def not_bank(self, target: str) -> dict[str, Any]:
        """The refusal of a caller who does not act for a member bank."""
        return self.refuse(
            target, f"only a member bank's staff may call {self.function}; {self.who} does not act for one"
        )

    def keys(self) -> dict[str, Any]:
        """The key epochs: ``{"current": n, "live": [...]}``."""
        return self.ctx.get_state("keys") or {"current": 0, "live": []}

    def key(self, epoch: int) -> bytes:
        """The fingerprint key of an epoch (read on a bank's peer; never leaves the contract)."""
        value = self.ctx.get_private(self.config["key_collection"], f"key:{epoch}")
        if value is None:
            raise ContractError(f"this peer holds no fingerprint key for epoch {epoch}", code="CONFLICT")
        return bytes.fromhex(value["key"])


class TradeFinance(Contract):
    """Trader registry, KYC, private document fingerprints, financing lifecycle, source of funds, oversight."""

    name = "tradefinance"
    version = "1.0"

    # -- set-up and keys ---------------------------------------------------------------------------------------

    @submit
    def init(self, ctx: Context, config: dict) -> dict:
        """Store the consortium's configuration and the first epoch's fingerprint key (transient ``key``)."""
        if ctx.get_state("config") is not None:
            raise ContractError("the contract is already initialised", code="CONFLICT")
        banks, regulators, roles = config.get("banks"), config.get("regulators"), config.get("roles")
        if not isinstance(banks, dict) or not banks or not isinstance(regulators, dict) or not isinstance(roles, dict):
            raise ContractError("config needs banks, regulators and roles")
        if ctx.caller.kind != "admin" or ctx.caller.org not in banks:
            raise ContractError("only a member bank's admin may initialise the contract", code="FORBIDDEN")
        for bank, info in banks.items():
            if (
                not isinstance(info, dict)
                or not COUNTRY.match(str(info.get("jurisdiction")))
                or not info.get("collection")
            ):
                raise ContractError(f"bank {bank}: needs a jurisdiction (ISO 3166) and a collection")
        key = ctx.transient.get("key")
        if key is None or len(key) != 32:
            raise ContractError("give the first fingerprint key (32 bytes) as transient data 'key'")
        ctx.put_state("config", {**config, "key_collection": config.get("key_collection", "tf-keys")})
        ctx.put_private(config.get("key_collection", "tf-keys"), "key:1", {"key": key.hex()})
        ctx.put_state("keys", {"current": 1, "live": [1]})
        return {"epoch": 1}

    @submit
    def rotate_key(self, ctx: Context, retire_before: int = 0) -> dict:
        """Start a new key epoch (transient ``key``); epochs older than ``retire_before`` stop being looked up."""
        call = _Call(ctx, "rotate_key")
        if call.bank is None or ctx.caller.kind != "admin":
            return call.refuse("keys", "only a member bank's admin may rotate the fingerprint key")
        key = ctx.transient.get("key")
        if key is None or len(key) != 32:
            raise ContractError("give the new fingerprint key (32 bytes) as transient data 'key'")
        keys = call.keys()
        epoch = keys["current"] + 1
        live = [e for e in keys["live"] if e >= retire_before] + [epoch]
        ctx.put_private(call.config["key_collection"], f"key:{epoch}", {"key": key.hex()})
        ctx.put_state("keys", {"current": epoch, "live": live})
        return {"epoch": epoch, "live": live}

    @evaluate
    def config(self, ctx: Context) -> dict:
        """The consortium's configuration and the key epochs (no key)."""
        call = _Call(ctx, "config")
        return {**call.config, "keys": call.keys()}

    @evaluate
    def whoami(self, ctx: Context) -> dict:
        """How the contract sees the caller: bank, regulator, or neither."""
        call = _Call(ctx, "whoami")
        return {"id": call.who, "org": call.org, "bank": call.bank, "regulator": call.regulator}

    # -- trader registry and KYC -------------------------------------------------------------------------------

    @submit
    def register_trader(self, ctx: Context, trader_id: str, names: dict, aliases: list) -> dict:
        """Add a trader to the shared registry (identifier validated); an existing one gains names and aliases."""
        call = _Call(ctx, "register_trader")
        if call.bank is None:
            return call.not_bank(f"trader:{trader_id}")
        try:
            parsed = parse_trader_id(trader_id)
        except InvalidField as exc:
            raise ContractError(f"trader_id: expected {exc.expected}, found {exc.found!r}") from None
        clean = {}
        for lang, text in names.items():
            if lang not in NAME_LANGUAGES or not isinstance(text, str) or not 0 < len(text) <= 200:
                raise ContractError(f"names: a language among {', '.join(NAME_LANGUAGES)} with a name, not {lang!r}")
            clean[lang] = text
        if (
            not isinstance(aliases, list)
            or len(aliases) > 20
            or any(not isinstance(a, str) or not 0 < len(a) <= 200 for a in aliases)
        ):
            raise ContractError("aliases must be a list of at most 20 names")
        key = f"trader:{parsed.key}"
        record = ctx.get_state(key)
        if record is None:
            record = {"id": parsed.key, "kind": parsed.kind, "value": parsed.value, "names": {}, "aliases": []}
            record["by"], record["tx"], record["at"] = call.org, ctx.tx_id, ctx.timestamp_ms
        record["names"] = {**record["names"], **clean}
        record["aliases"] = sorted(set(record["aliases"]) | set(aliases))
        ctx.put_state(key, record)
        return record

    @evaluate
    def traders(self, ctx: Context) -> list:
        """The registry, each trader with its attestations."""
        _Call(ctx, "traders")
        attestations: dict[str, list[Any]] = {}
        for _, value in ctx.get_prefix("kyc:"):
            attestations.setdefault(value["trader"], []).append(value)
        return [{**value, "kyc": attestations.get(value["id"], [])} for _, value in ctx.get_prefix("trader:")]

    @submit
    def attest_kyc(self, ctx: Context, trader_id: str, level: str, date: str, expiry: str, file_hash: str) -> dict:
        """Publish the caller bank's attestation of a registered trader; the file (transient ``file``) and its salt
        (transient ``salt``) go to the bank's collection, the salted hash ``file_hash`` to public state."""
        call = _Call(ctx, "attest_kyc")
        if call.bank is None:
            return call.not_bank(f"kyc:{trader_id}")
        if ctx.get_state(f"trader:{trader_id}") is None:
            raise ContractError(f"trader {trader_id} is not in the registry; register it first", code="NOT_FOUND")
        if level not in KYC_LEVELS:
            raise ContractError(f"level must be one of {', '.join(KYC_LEVELS)}, not {level!r}")
        if not ISO_DATE.match(date) or not ISO_DATE.match(expiry) or expiry <= date:
            raise ContractError(f"date and expiry must be ISO dates with expiry after date, not {date!r} / {expiry!r}")
        file = _transient_json(ctx, "file", "the KYC file")
        salt = ctx.transient.get("salt")
        if salt is None or len(salt) < 16:
            raise ContractError("give the file's salt (≥ 16 bytes) as transient data 'salt'")
        expected = hmac.new(salt, ctx.transient["file"], hashlib.sha256).hexdigest()
        if file_hash != expected:
            raise ContractError("file_hash is not HMAC-SHA-256(salt, file) of the transient file")
        ctx.put_private(call.collection(call.bank), f"kyc:{trader_id}", {"file": file, "salt": salt.hex()})
        record = {
            "bank": call.bank,
            "trader": trader_id,
            "level": level,
            "date": date,
            "expiry": expiry,
            "file_hash": file_hash,
            "revoked": False,
            "tx": ctx.tx_id,
            "at": ctx.timestamp_ms,
        }
        ctx.put_state(f"kyc:{trader_id}:{call.bank}", record)
        return record

    @submit
    def revoke_kyc(self, ctx: Context, trader_id: str) -> dict:
        """Revoke the caller bank's attestation of a trader: new financing of its documents is refused."""
        call = _Call(ctx, "revoke_kyc")
        if call.bank is None:
            return call.not_bank(f"kyc:{trader_id}")
        key = f"kyc:{trader_id}:{call.bank}"
        record = ctx.get_state(key)
        if record is None:
            raise ContractError(f"{call.bank} has no attestation of {trader_id}", code="NOT_FOUND")
        record = {**record, "revoked": True, "revoked_tx": ctx.tx_id, "revoked_at": ctx.timestamp_ms}
        ctx.put_state(key, record)
        return record

    # -- documents ---------------------------------------------------------------------------------------------

    @submit
    def register(self, ctx: Context) -> list:
        """Register the caller bank's documents (transient ``documents``: ``[{"row", "document"}]``).

        Each document is fingerprinted under every live epoch's key; a fingerprint already carried by a live
        registration makes it REDU (DFIN once that was financed), else REGU. Near-duplicates met in a bucket are
        answered with risk and reasons only — another member bank is never named.
        """
        call = _Call(ctx, "register")
        bank = call.bank
        if bank is None:
            return [call.not_bank("documents")]
        items = _transient_json(ctx, "documents", "the documents to register")
        if not isinstance(items, list) or not 0 < len(items) <= MAX_DOCUMENTS:
            raise ContractError(f"documents must be a list of 1–{MAX_DOCUMENTS} entries")
        keys = call.keys()
        epochs = {epoch: call.key(epoch) for epoch in keys["live"]}
        out = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("row"), int):
                raise ContractError(f"documents[{index}] must be {{'row': n, 'document': {{…}}}}")
            try:
                document = document_from_json(item.get("document"))
            except CodecError as exc:
                raise ContractError(f"row {item['row']}: {exc}") from None
            ref = f"{ctx.tx_id[:16]}-{index:03d}"
            fp_keys: list[str] = []
            met: list[str] = []
            financed = False
            for epoch, key in epochs.items():
                for fingerprint in fingerprints(document, key, epoch):
                    fp_key = f"fp:{epoch}:{fingerprint.value}"
                    if fp_key in fp_keys:
                        continue
                    fp_keys.append(fp_key)
                    record = ctx.get_state(fp_key) or {"docs": [], "financing": None}
                    met += [other for other in record["docs"] if other not in met]
                    financed = financed or record["financing"] is not None
                    ctx.put_state(fp_key, {**record, "docs": [*record["docs"], ref]})
            similar: dict[str, dict[str, Any]] = {}
            my_traits: dict[str, dict[str, str]] = {}
            for epoch, key in epochs.items():
                mine = traits(key, epoch, document)
                my_traits[str(epoch)] = mine
                for bucket in similarity_keys(document, key, epoch):
                    sim_key = f"sim:{epoch}:{bucket.value}"
                    record = ctx.get_state(sim_key) or {"docs": []}
                    for entry in record["docs"]:
                        other = entry["ref"]
                        if other in met or other in similar or other == ref:
                            continue
                        risk, reasons = compare_traits(mine, entry["traits"])
                        similar[other] = {"risk": risk, "reasons": reasons, "other_bank": entry["bank"] != bank}
                    if all(entry["ref"] != ref for entry in record["docs"]):
                        entry = {"ref": ref, "bank": bank, "traits": mine}
                        ctx.put_state(sim_key, {"docs": [*record["docs"], entry]})
            status = DFIN if financed else REDU if met else REGU
            hits = [similar[other] for other in sorted(similar)]
            ctx.put_private(call.collection(bank), f"doc:{ref}", {"row": item["row"], "document": item["document"]})
            ctx.put_state(
                f"doc:{ref}",
                {
                    "ref": ref,
                    "bank": bank,
                    "doc_type": str(document.doc_type),
                    "status": status,
                    "registered_status": status,
                    "fps": fp_keys,
                    "similar": hits,
                    "financing": None,
                    "tx": ctx.tx_id,
                    "at": ctx.timestamp_ms,
                },
            )
            answer = [{"risk": h["risk"], "reasons": h["reasons"], "other_bank": h["other_bank"]} for h in hits]
            out.append({"row": item["row"], "ref": ref, "status": status, "similar": answer})
        ctx.set_event("registered", {"count": len(out), "statuses": [entry["status"] for entry in out]})
        return out

    @submit
    def cancel(self, ctx: Context, ref: str) -> dict:
        """Cancel one of the caller bank's registrations (CANC): its fingerprints stop counting as duplicates."""
        call = _Call(ctx, "cancel")
        record = ctx.get_state(f"doc:{ref}") if REF.match(ref) else None
        if record is None:
            raise ContractError(f"no registration {ref!r}", code="NOT_FOUND")
        if call.bank != record["bank"]:
            return call.refuse(f"doc:{ref}", "only the bank that registered a document may cancel it")
        if record["status"] in (FNCD, CANC):
            return call.refuse(f"doc:{ref}", f"a document that is {record['status']} cannot be cancelled", "CONFLICT")
        for fp_key in record["fps"]:
            fp = ctx.get_state(fp_key)
            if fp is not None:
                ctx.put_state(fp_key, {**fp, "docs": [d for d in fp["docs"] if d != ref]})
        record = {**record, "status": CANC, "cancelled_tx": ctx.tx_id}
        ctx.put_state(f"doc:{ref}", record)
        return {"ref": ref, "status": CANC}

    @evaluate
    def documents(self, ctx: Context, bank: str = "") -> list:
        """Registrations (public part): the caller bank's own; a regulator's: any bank's, or all."""
        call = _Call(ctx, "documents")
        target = bank or call.bank or ""
        if not call.regulator and (call.bank is None or target != call.bank):
            raise ContractError(f"{call.who} may list only its own bank's registrations", code="FORBIDDEN")
        return [value for _, value in ctx.get_prefix("doc:") if not target or value["bank"] == target]

    @evaluate
    def my_documents(self, ctx: Context) -> list:
        """The caller bank's registrations with their contents (from its collection, on its own peer)."""
        call = _Call(ctx, "my_documents")
        if call.bank is None:
            raise ContractError(f"{call.who} does not act for a member bank", code="FORBIDDEN")
        out = []
        for _, value in ctx.get_prefix("doc:"):
            if value["bank"] == call.bank:
                content = ctx.get_private(call.collection(call.bank), f"doc:{value['ref']}")
                out.append({**value, "content": content})
        return out

    # -- reading private data ----------------------------------------------------------------------------------

    @submit
    def access(self, ctx: Context, bank: str, kind: str, target: str) -> dict:
        """Decide and log a read of a bank's private data (a document, its documents, a KYC file, accounts).

        The bank itself and the regulators may; anyone else is refused, and the refusal is logged. The content is
        then read with :meth:`read_private` on the bank's peer.
        """
        call = _Call(ctx, "access")
        if bank not in call.config["banks"] or kind not in ACCESS_KINDS:
            raise ContractError(f"access needs a member bank and a kind among {', '.join(ACCESS_KINDS)}")
        what = f"{bank}/{kind}/{target}"
        if call.bank != bank and not call.regulator:
            result = call.refuse(what, f"only {bank} and the regulators may read {bank}'s {kind}; {call.who} may not")
            ctx.put_state(
                f"access:{ctx.tx_id}",
                {
                    "who": call.who,
                    "org": call.org,
                    "bank": bank,
                    "kind": kind,
                    "target": target,
                    "allowed": False,
                    "at": ctx.timestamp_ms,
                },
            )
            return {"access_id": ctx.tx_id, "allowed": False, **result}
        ctx.put_state(
            f"access:{ctx.tx_id}",
            {
                "who": call.who,
                "org": call.org,
                "bank": bank,
                "kind": kind,
                "target": target,
                "allowed": True,
                "at": ctx.timestamp_ms,
            },
        )
        return {"access_id": ctx.tx_id, "allowed": True}

    @evaluate
    def read_private(self, ctx: Context, access_id: str) -> Any:
        """The content a permitted access of the same caller (≤ 15 minutes old) names, read on the bank's peer."""
        call = _Call(ctx, "read_private")
        record = ctx.get_state(f"access:{access_id}") if TX_ID.match(access_id) else None
        if record is None or record["who"] != call.who or not record["allowed"]:
            raise ContractError(f"{call.who} has no permitted access {access_id}", code="FORBIDDEN")
        if ctx.timestamp_ms - record["at"] > ACCESS_TTL_MS:
            raise ContractError(f"access {access_id} is older than 15 minutes; ask again", code="FORBIDDEN")
        collection = call.collection(record["bank"])
        kind, target = record["kind"], record["target"]
        if kind == "document":
            return ctx.get_private(collection, f"doc:{target}")
        if kind == "kyc":
            return ctx.get_private(collection, f"kyc:{target}")
        if kind == "documents":
            return [
                {**value, "content": ctx.get_private(collection, f"doc:{value['ref']}")}
                for _, value in ctx.get_prefix("doc:")
                if value["bank"] == record["bank"]
            ]
        fin = ctx.get_state(f"fin:{target}")
        if fin is None or fin["bank"] != record["bank"]:
            raise ContractError(f"{record['bank']} has no financing {target}", code="NOT_FOUND")
        return [ctx.get_private(collection, f"acct:{target}:{n}") for n in range(len(fin["flows"]))]

    @submit
    def log_refusal(self, ctx: Context, function: str, target: str, reason: str) -> dict:
        """Log a refusal a query (evaluate) made to the caller: queries cannot write, so the service logs them."""
        call = _Call(ctx, function[:64] or "query")
        return call.refuse(target[:256], reason[:512])

    # -- financing ---------------------------------------------------------------------------------------------

    @submit
    def apply_financing(self, ctx: Context, ref: str, amount: str, currency: str) -> dict:
        """Apply to finance a registered document: claims its fingerprints (FNCD), or is refused with DFIN when
        any is already financed, or when no current KYC attestation of the seller by this bank exists."""
        call = _Call(ctx, "apply_financing")
        amount, currency = _amount(amount), _currency(currency)
        record = ctx.get_state(f"doc:{ref}") if REF.match(ref) else None
        if record is None:
            raise ContractError(f"no registration {ref!r}", code="NOT_FOUND")
        bank = call.bank
        if bank is None or bank != record["bank"]:
            return call.refuse(f"doc:{ref}", "only the bank that registered a document may apply to finance it")
        if record["status"] in (CANC, FNCD):
            return call.refuse(f"doc:{ref}", f"the document is {record['status']}", "CONFLICT")
        claimed = []
        for fp_key in record["fps"]:
            fp = ctx.get_state(fp_key) or {"docs": [ref], "financing": None}
            if fp["financing"] is not None:
                ctx.put_state(f"doc:{ref}", {**record, "status": DFIN})
                refusal = call.refuse(f"doc:{ref}", "a document with this fingerprint is already financed", DFIN)
                return {"status": DFIN, "state": "refused", **refusal}
            claimed.append((fp_key, fp))
        content = ctx.get_private(call.collection(bank), f"doc:{ref}")
        if content is None:
            raise ContractError(f"this peer holds no content of {ref}; apply on {bank}'s peer", code="CONFLICT")
        seller, buyer = content["document"]["seller_id"], content["document"]["buyer_id"]
        trader = f"{seller['kind']}:{seller['value']}"
        corridor = f"{KIND_COUNTRY.get(seller['kind'], 'XX')}-{KIND_COUNTRY.get(buyer['kind'], 'XX')}"
        kyc = ctx.get_state(f"kyc:{trader}:{bank}")
        today = _iso(ctx)
        if kyc is None or kyc["revoked"] or kyc["expiry"] < today:
            why = (
                "no KYC attestation"
                if kyc is None
                else "a revoked KYC attestation"
                if kyc["revoked"]
                else (f"a KYC attestation that expired on {kyc['expiry']}")
            )
            refusal = call.refuse(f"doc:{ref}", f"{bank} holds {why} of the seller {trader}", "KYC")
            return {"status": record["status"], "state": "refused", **refusal}
        fin_id = "F" + ctx.tx_id[:20]
        for fp_key, fp in claimed:
            ctx.put_state(fp_key, {**fp, "financing": fin_id})
            # Every other live registration of the same document is now a duplicate of a financed one.
            for other in fp["docs"]:
                if other == ref:
                    continue
                other_record = ctx.get_state(f"doc:{other}")
                if other_record is not None and other_record["status"] in (REGU, REDU):
                    ctx.put_state(f"doc:{other}", {**other_record, "status": DFIN})
        step = {"state": "applied", "tx": ctx.tx_id, "at": ctx.timestamp_ms, "by": call.who}
        financing = {
            "id": fin_id,
            "bank": bank,
            "doc": ref,
            "fps": record["fps"],
            "trader": trader,
            "amount": amount,
            "currency": currency,
            "jurisdiction": call.config["banks"][bank]["jurisdiction"],
            "corridor": corridor,
            "state": "applied",
            "steps": [step],
            "flows": [],
            "outstanding": "0",
            "tx": ctx.tx_id,
            "at": ctx.timestamp_ms,
        }
        ctx.put_state(f"fin:{fin_id}", financing)
        ctx.put_state(f"doc:{ref}", {**record, "status": FNCD, "financing": fin_id})
        ctx.set_event("financed", {"financing": fin_id})
        return {"status": FNCD, "state": "applied", "financing": fin_id}

    def _step(self, ctx: Context, function: str, fin_id: str, expected: tuple[str, ...], state: str | None) -> Any:
        call = _Call(ctx, function)
        fin = ctx.get_state(f"fin:{fin_id}") if FIN_ID.match(fin_id) else None
        if fin is None:
            raise ContractError(f"no financing {fin_id!r}", code="NOT_FOUND")
        if call.bank != fin["bank"]:
            return call, fin, call.refuse(f"fin:{fin_id}", f"only {fin['bank']} may {function.replace('_', ' ')} it")
        if fin["state"] not in expected:
            why = f"financing {fin_id} is {fin['state']}; {function} needs it {' or '.join(expected)}"
            return call, fin, call.refuse(f"fin:{fin_id}", why, "CONFLICT")
        if state is not None:
            fin = {
                **fin,
                "state": state,
                "steps": [*fin["steps"], {"state": state, "tx": ctx.tx_id, "at": ctx.timestamp_ms, "by": call.who}],
            }
        return call, fin, None

    @submit
    def approve(self, ctx: Context, fin_id: str) -> dict:
        """Approve an applied financing."""
        _, fin, refused = self._step(ctx, "approve", fin_id, ("applied",), "approved")
        if refused:
            return refused
        ctx.put_state(f"fin:{fin_id}", fin)
        return {"financing": fin_id, "state": fin["state"]}

    def _flow(
        self, ctx: Context, call: _Call, fin: dict[str, Any], kind: str, args: tuple[str, str, str, str]
    ) -> dict[str, Any]:
        amount, currency, country, purpose = args
        _amount(amount), _currency(currency)
        if not COUNTRY.match(country):
            raise ContractError(f"counterparty_country must be an ISO 3166 alpha-2 code such as HK, not {country!r}")
        if not PURPOSE.match(purpose):
            raise ContractError(f"purpose_code must be 1–12 letters or digits (SAFE's code), not {purpose!r}")
        account = _transient_json(ctx, "account", "the account reference")
        if not isinstance(account, dict) or not isinstance(account.get("account_ref"), str):
            raise ContractError("transient 'account' must be {\"account_ref\": …}")
        number = len(fin["flows"])
        flow = {
            "financing": fin["id"],
            "n": number,
            "kind": kind,
            "bank": fin["bank"],
            "trader": fin["trader"],
            "amount": amount,
            "currency": currency,
            "counterparty_country": country,
            "purpose_code": purpose,
            "corridor": f"{fin['jurisdiction']}-{country}",
            "tx": ctx.tx_id,
            "at": ctx.timestamp_ms,
        }
        ctx.put_state(f"flow:{fin['id']}:{number}", flow)
        ctx.put_private(call.collection(fin["bank"]), f"acct:{fin['id']}:{number}", account)
        return {**fin, "flows": [*fin["flows"], number]}

    @submit
    def disburse(
        self, ctx: Context, fin_id: str, amount: str, currency: str, counterparty_country: str, purpose_code: str
    ) -> dict:
        """Disburse an approved financing: a source-of-funds record, the account reference (transient ``account``)
        in the bank's collection."""
        call, fin, refused = self._step(ctx, "disburse", fin_id, ("approved",), "disbursed")
        if refused:
            return refused
        fin = self._flow(ctx, call, fin, "disbursement", (amount, currency, counterparty_country, purpose_code))
        fin["outstanding"] = _from_cents(_cents(fin["outstanding"]) + _cents(amount))
        ctx.put_state(f"fin:{fin_id}", fin)
        return {"financing": fin_id, "state": fin["state"], "flow": len(fin["flows"]) - 1}

    @submit
    def repay(
        self, ctx: Context, fin_id: str, amount: str, currency: str, counterparty_country: str, purpose_code: str
    ) -> dict:
        """Record a repayment of a disbursed financing (account reference as transient ``account``)."""
        call, fin, refused = self._step(ctx, "repay", fin_id, ("disbursed",), None)
        if refused:
            return refused
        fin = self._flow(ctx, call, fin, "repayment", (amount, currency, counterparty_country, purpose_code))
        fin["outstanding"] = _from_cents(max(0, _cents(fin["outstanding"]) - _cents(amount)))
        fin["steps"] = [*fin["steps"], {"state": "repaid", "tx": ctx.tx_id, "at": ctx.timestamp_ms, "by": call.who}]
        ctx.put_state(f"fin:{fin_id}", fin)
        return {"financing": fin_id, "state": fin["state"], "flow": len(fin["flows"]) - 1}

    @submit
    def settle(self, ctx: Context, fin_id: str) -> dict:
        """Close a disbursed financing as settled."""
        _, fin, refused = self._step(ctx, "settle", fin_id, ("disbursed",), "settled")
        if refused:
            return refused
        ctx.put_state(f"fin:{fin_id}", {**fin, "outstanding": "0"})
        return {"financing": fin_id, "state": fin["state"]}

    @submit
    def default(self, ctx: Context, fin_id: str) -> dict:
        """Close a disbursed financing as defaulted (what is outstanding stays as the loss)."""
        _, fin, refused = self._step(ctx, "default", fin_id, ("disbursed",), "defaulted")
        if refused:
            return refused
        ctx.put_state(f"fin:{fin_id}", fin)
        return {"financing": fin_id, "state": fin["state"]}

    @evaluate
    def financings(self, ctx: Context, bank: str = "") -> list:
        """Financings with their flows: the caller bank's own; a regulator's: any bank's, or all."""
        call = _Call(ctx, "financings")
        target = bank or call.bank or ""
        if not call.regulator and (call.bank is None or target != call.bank):
            raise ContractError(f"{call.who} may list only its own bank's financings", code="FORBIDDEN")
        flows: dict[str, list[Any]] = {}
        for _, flow in ctx.get_prefix("flow:"):
            flows.setdefault(flow["financing"], []).append(flow)
        return [
            {**fin, "flow_records": sorted(flows.get(fin["id"], []), key=lambda f: f["n"])}
            for _, fin in ctx.get_prefix("fin:")
            if not target or fin["bank"] == target
        ]

    # -- regulators --------------------------------------------------------------------------------------------

    @submit
    def flag(self, ctx: Context, record_ref: str, note: str) -> dict:
        """A regulator's supervisory flag or note on a ledger record (the only write a regulator may make)."""
        call = _Call(ctx, "flag")
        if not call.regulator:
            return call.refuse(record_ref[:256], f"only a regulator may flag records; {call.who} is not one")
        if not isinstance(record_ref, str) or not 0 < len(record_ref) <= 256:
            raise ContractError("record_ref must name a record (1–256 characters)")
        if not isinstance(note, str) or not 0 < len(note) <= 2000:
            raise ContractError("note must be 1–2000 characters")
        record = {
            "record": record_ref,
            "note": note,
            "by": call.who,
            "org": call.org,
            "at": ctx.timestamp_ms,
            "tx": ctx.tx_id,
        }
        ctx.put_state(f"flag:{ctx.tx_id}", record)
        ctx.set_event("flagged", {"record": record_ref})
        return record

    @evaluate
    def oversight(self, ctx: Context) -> dict:
        """Everything public a regulator's views are computed from: registrations, financings, flows, flags,
        refusals and accesses."""
        call = _Call(ctx, "oversight")
        if not call.regulator:
            raise ContractError(
                f"only a regulator may see the oversight records; {call.who} is not one", code="FORBIDDEN"
            )
        return {
            "documents": [value for _, value in ctx.get_prefix("doc:")],
            "financings": [value for _, value in ctx.get_prefix("fin:")],
            "flows": [value for _, value in ctx.get_prefix("flow:")],
            "flags": [value for _, value in ctx.get_prefix("flag:")],
            "refusals": [value for _, value in ctx.get_prefix("refusal:")],
            "accesses": [value for _, value in ctx.get_prefix("access:")],
        }

    @evaluate
    def refusals(self, ctx: Context) -> list:
        """The refusals logged on the ledger: a regulator sees all, anyone else their own organisation's."""
        call = _Call(ctx, "refusals")
        return [value for _, value in ctx.get_prefix("refusal:") if call.regulator or value["org"] == call.org]
