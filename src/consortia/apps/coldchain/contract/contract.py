"""The cold-chain contract: EPCIS events kept private to the consortium, indexed for queries, trace and journeys.

**What goes where.** Every organisation of the ``coldchain`` channel captures its own EPCIS 2.0 events through
:meth:`ColdChain.capture`. The events are commercial — order and despatch numbers, parties, quantities, master
data, every lot's name — so they never travel as contract arguments: the client sends them as *transient data*
(``ctx.transient["capture"]``) and the contract stores each one in the private data collection
``coldchain-members`` (the five organisations; the ledger keeps only the SHA-256 of each key and a salted hash
of each value). The transaction's only arguments are the Merkle root and leaf count of the capture's public
projections (:mod:`consortia.apps.coldchain.domain.commitment`): the contract recomputes them and refuses a mismatch, so
the block commits to exactly what the members stored, and a consumer can later verify each step of a lot's
journey without anyone disclosing the rest.

**Indexes on public state, under opaque names.** Queries, trace and journeys are range scans over composite keys
(the state database has no array-contains operator, and private data has no range scans). Those keys must name
no lot, location, device or container, so every such identifier enters a key only as its *reference*: the first
128 bits of HMAC-SHA256 under a consortium secret that :meth:`init` stores in the private collection (no
non-member can even confirm a guessed lot name). A reference resolves to its name through a private
``name/<ref>`` record. Event IDs are referenced the same way: a CBV 2.0 hash ID is an *unsalted* hash of the
event, so whoever guesses an event's order number and quantity could test the guess against it. Private keys are
built from references and transaction ids only, so their hashes on the ledger confirm no guess either. Public
values carry times, CBV business steps and dispositions, never commercial data; nor do contract events or the
values submit functions return (both travel in the block).

**Authority by endorsement policy.** A lot belongs to the organisation that captured its first event other than a
sensor report (its landing, commissioning, the transformation that made it, or its first logger association):
``own/<lot ref>`` records the owner and carries the key-level policy
``AND('<owner>.peer', '<inspection org>.peer')``, and a recall must update it — so a recall is valid only if the
owner's and the inspection agency's peers endorsed it, and the contract refuses callers other than the owner or an
inspector. Closing an alarm updates ``alarm/<ref>``, under ``AND`` of the owners' peers of the alarm's lots;
changing a master-data entry updates ``mdc/<ref>`` (its owner and a keyed seal of the current value), under its
owner's peer — and readers accept the private value only when it matches that seal, so a member writing the private
key behind its own peer's back changes nothing anyone sees. Non-conformance is the inspection agency's call: at
:meth:`init` the contract creates the inspection register — 16 shard keys holding each inspected lot's verdict —
under ``AND('<inspection org>.peer')``. The ``inspector`` role counts only from the organisation named at
:meth:`init`; an ``inspector`` certificate of another member is an ordinary member.

Alarms from the sensor rules (:meth:`raise_alarm`, details as transient data) are recorded privately and
announced as ``ColdChainAlarm`` events that carry only the alarm's reference, rule and severity.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from consortia.apps.coldchain.domain import commitment, gs1, timestamps, vocab
from consortia.apps.coldchain.domain.cte import classify, kdes
from consortia.apps.coldchain.domain.eventhash import STANDARD_PREFIXES, context_prefixes, event_hash_id
from consortia.apps.coldchain.domain.facts import EventFacts, event_facts, extension
from consortia.contracts import Context, Contract, ContractError, evaluate, submit
from consortia.ledger import merkle
from consortia.ledger.encoding import canonical_json, parse_json

SEP = "\x1f"
CONFIG_KEY = "config"
COLLECTION = "coldchain-members"
SECRET_KEY = "config" + SEP + "secret"
SECRET_TRANSIENT = "secret"
CAPTURE_TRANSIENT = "capture"
ALARM_TRANSIENT = "alarm"
NOTE_TRANSIENT = "note"
SHARDS = 16
MAX_EVENTS = 5000
MAX_IGNORED = 100
MAX_PAGE = 1000
TRACE_LIMIT = 500
REF_HEX = 32
CAPTURE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,79}")

DOC_EVENT = "epcis-event"
NONCONFORMANT = "non_conformant"
RECALLED = "recalled"
NOT_ALLOWED = "not allowed:"
"""How every refusal for want of authority begins (the routes answer it with 403)."""

# EPCIS query parameters answered from the object indexes: parameter → index roles.
MATCH_ROLES = {
    "MATCH_epc": ("epc",),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": ("epc", "parent", "input", "output"),
    "MATCH_epcClass": ("class",),
    "MATCH_inputEPCClass": ("inclass",),
    "MATCH_outputEPCClass": ("outclass",),
    "MATCH_anyEPCClass": ("class", "inclass", "outclass"),
}
# parameter → (header field, how values are normalised: CBV word, identifier reference, or as given)
EQ_FIELDS = {
    "EQ_bizStep": ("bizStep", "bizStep"),
    "EQ_disposition": ("disposition", "disposition"),
    "EQ_action": ("action", None),
    "EQ_bizLocation": ("bizLocation", "id"),
    "EQ_readPoint": ("readPoint", "id"),
    "EQ_eventID": ("eventRef", "ev"),
    "EQ_transformationID": ("transformationID", "xf"),
    "eventType": ("eventType", None),
}
TIME_FIELDS = {
    "GE_eventTime": ("eventTimeMs", "$gte"),
    "LT_eventTime": ("eventTimeMs", "$lt"),
    "GE_recordTime": ("recordTimeMs", "$gte"),
    "LT_recordTime": ("recordTimeMs", "$lt"),
}
QUERY_PARAMS = frozenset({*MATCH_ROLES, *EQ_FIELDS, *TIME_FIELDS, "perPage", "nextPageToken"})

PUBLIC_LOCATION = ("name", "nameKo", "latitude", "longitude")
PUBLIC_PRODUCT = ("descriptionShort", "descriptionKo", "species")
PUBLIC_ALARM = ("ref", "code", "severity", "message", "message_ko", "status", "raisedAtMs", "txID")
MASTER_KINDS = {
    "urn:epcglobal:epcis:vtype:BusinessLocation": "loc",
    "urn:epcglobal:epcis:vtype:ReadPoint": "loc",
    "urn:epcglobal:epcis:vtype:EPCClass": "prod",
}


def _key(*parts: str) -> str:
    return SEP.join(parts)


def _prefix(*parts: str) -> str:
    return SEP.join(parts) + SEP


def _t(ms: int) -> str:
    return f"{max(ms, 0):013d}"


def _last(key: str) -> str:
    return key.rsplit(SEP, 1)[1]


def event_key(event_ref: str) -> str:
    """Private key of an event record, by the event's reference (a CBV hash ID is an unsalted hash of the event)."""
    return _key("ev", event_ref)


def _lot_key(text: str) -> str:
    try:
        return gs1.LotId.parse(text).key
    except gs1.GS1Error as exc:
        raise ContractError(str(exc), code="INVALID") from None


def _values(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        items = [v.strip() for v in value.replace("|", ",").split(",")]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise ContractError(f"{name} must be a string or a list of strings", code="INVALID")
    items = [v for v in items if v]
    if not items:
        raise ContractError(f"{name} is empty", code="INVALID")
    return items


def _digits(text: Any) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts '²', which ``int`` refuses)."""
    return isinstance(text, str) and text.isascii() and text.isdigit()


def _gtin_level(identifier: str) -> str | None:
    """The GTIN-level Digital Link above a finer one (``…/01/<gtin>/21/<serial>`` → ``…/01/<gtin>``)."""
    if identifier.startswith(gs1.CANONICAL_DOMAIN + "/") and identifier.count("/") > 4:
        return "/".join(identifier.split("/")[:5])
    return None


def _policy(*orgs: str) -> str:
    """``AND`` of the peers of some organisations (each once)."""
    return "AND(" + ",".join(f"'{org}.peer'" for org in sorted(set(orgs))) + ")"


def _transient_json(ctx: Context, name: str, what: str) -> Any:
    raw = ctx.transient.get(name)
    if raw is None:
        raise ContractError(
            f"{what} travels as transient data {name!r} (never as an argument); none was sent", code="INVALID"
        )
    try:
        return parse_json(raw)
    except ValueError as exc:
        raise ContractError(f"transient {name!r}: {exc}", code="INVALID") from None


def _ignore_fields(value: Any) -> frozenset[str]:
    """The extension fields a capture's document leaves out of its events' hashes (its ``ignoreFields``).

    Only extension fields (``prefix:name``) may be left out, the rule of :func:`eventhash.ignored_fields` (which
    chose what the capturer sends): a standard field left out would let two different events share a hash.
    """
    if value is None:
        return frozenset()
    if (
        not isinstance(value, list)
        or len(value) > MAX_IGNORED
        or not all(isinstance(v, str) and ":" in v and len(v) <= 512 for v in value)
    ):
        raise ContractError(
            f"ignoreFields must be a list of at most {MAX_IGNORED} extension field names (prefix:name), "
            f"got {str(value)[:80]!r}",
            code="INVALID",
        )
    return frozenset(value)


def reference(secret: bytes, kind: str, value: str) -> str:
    """The opaque reference of an identifier of some kind (``lot``, ``id``, ``ev``…) under the consortium secret."""
    return hmac.new(secret, f"{kind}{SEP}{value}".encode(), hashlib.sha256).hexdigest()[:REF_HEX]


class _Refs:
    """Opaque references of identifiers under the consortium secret, and their names (one per call)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._secret: bytes | None = None
        self._names: dict[str, str | None] = {}
        self._remembered: set[str] = set()

    def secret(self) -> bytes:
        """The consortium secret (read once per call from the private collection)."""
        if self._secret is None:
            stored = self.ctx.get_private(COLLECTION, SECRET_KEY)
            if not isinstance(stored, dict) or not isinstance(stored.get("secret"), str):
                raise ContractError(
                    "the cold-chain contract is not initialised: call init(<inspection org>) first", code="CONFLICT"
                )
            self._secret = bytes.fromhex(stored["secret"])
        return self._secret

    def __call__(self, kind: str, value: str) -> str:
        ref = reference(self.secret(), kind, value)
        self._names.setdefault(ref, value)
        return ref

    def seal(self, value: Any) -> str:
        """A keyed hash of a value (public, yet no one without the secret can test a guess against it)."""
        return hmac.new(self.secret(), b"seal" + SEP.encode() + canonical_json(value), hashlib.sha256).hexdigest()

    def name(self, ref: str) -> str | None:
        """The identifier a reference stands for (from this call, else the private name record)."""
        if ref not in self._names:
            record = self.ctx.get_private(COLLECTION, _key("name", ref))
            self._names[ref] = record.get("id") if isinstance(record, dict) else None
        return self._names[ref]

    def remember(self, ref: str, kind: str) -> None:
        """Record a reference's name privately (a blind write: it conflicts only with a concurrent read of it)."""
        if ref not in self._remembered and self._names.get(ref) is not None:
            self._remembered.add(ref)
            self.ctx.put_private(COLLECTION, _key("name", ref), {"kind": kind, "id": self._names[ref]})


class ColdChain(Contract):
    """EPCIS capture and query, lots, trace, inspections and alarms for the seafood cold chain."""

    name = "coldchain"
    version = "2.0"

    # -- set-up --------------------------------------------------------------------------------------------

    @submit
    def init(self, ctx: Context, inspection_org: str) -> dict:
        """Name the inspection agency, store the consortium secret (transient), create the register (once)."""
        if ctx.get_state(CONFIG_KEY) is not None:
            raise ContractError("the cold-chain contract is already initialised", code="CONFLICT")
        if inspection_org not in ctx.channel_orgs:
            raise ContractError(f"{inspection_org!r} is not a member of channel {ctx.channel!r}", code="INVALID")
        secret = ctx.transient.get(SECRET_TRANSIENT)
        if not isinstance(secret, bytes) or len(secret) < 32:
            raise ContractError(
                f"init needs at least 32 random bytes as transient data {SECRET_TRANSIENT!r} "
                f"(got {0 if secret is None else len(secret)})",
                code="INVALID",
            )
        ctx.put_private(COLLECTION, SECRET_KEY, {"secret": secret.hex()})
        policy = _policy(inspection_org)
        for shard in range(SHARDS):
            key = _key("inspection", f"{shard:02d}")
            ctx.put_state(key, {"docType": "inspection-register", "lots": {}})
            ctx.set_key_policy(key, policy)
        config = {
            "docType": "config",
            "inspection_org": inspection_org,
            "inspection_policy": policy,
            "collection": COLLECTION,
        }
        ctx.put_state(CONFIG_KEY, config)
        return config

    def _config(self, ctx: Context) -> dict:
        config = ctx.get_state(CONFIG_KEY)
        if config is None:
            raise ContractError(
                "the cold-chain contract is not initialised: call init(<inspection org>) first", code="CONFLICT"
            )
        return config

    def _inspector(self, ctx: Context, config: dict) -> bool:
        """Whether the caller is an inspector: role ``inspector`` *of the configured inspection organisation*."""
        return ctx.caller.org == config["inspection_org"] and ctx.caller.role == "inspector"

    # -- capture -------------------------------------------------------------------------------------------

    @submit
    def capture(self, ctx: Context, root: str, count: int) -> dict:
        """Record one EPCIS document's events (transient ``capture``), all or none, committed to by ``root``."""
        config = self._config(ctx)
        refs = _Refs(ctx)
        payload = _transient_json(ctx, CAPTURE_TRANSIENT, "an EPCIS document")
        if not isinstance(payload, dict):
            raise ContractError("transient 'capture' must be a JSON object {events, context, salts, …}", code="INVALID")
        events, salts = payload.get("events"), payload.get("salts")
        if not isinstance(events, list) or not events:
            raise ContractError("a capture needs at least one event", code="INVALID")
        if len(events) > MAX_EVENTS:
            raise ContractError(f"a capture holds at most {MAX_EVENTS} events, got {len(events)}", code="INVALID")
        if not isinstance(salts, list) or len(salts) != len(events):
            raise ContractError(
                f"a capture needs one salt per event: {len(events)} events, got {salts!r:.40}", code="INVALID"
            )
        prefixes = context_prefixes(payload.get("context"))
        ignore = _ignore_fields(payload.get("ignoreFields"))
        # what the document adds to (or changes in) the standard prefixes: enough to rebuild ``prefixes``
        document_prefixes = {k: v for k, v in prefixes.items() if STANDARD_PREFIXES.get(k) != v}
        given_id = payload.get("captureID")  # echoed in the block: a job id (a UUID), never free text
        capture_id = given_id if isinstance(given_id, str) and CAPTURE_ID.fullmatch(given_id) else ctx.tx_id
        inspector = self._inspector(ctx, config)
        verdicts: dict[str, dict] = {}
        event_ids: list[str] = []
        seen: set[str] = set()
        leaves: list[commitment.Leaf] = []
        owners: dict[str, dict | None] = {}  # lot reference → its ``own`` record, read once per capture
        alarms = 0
        for index, event in enumerate(events):
            if not isinstance(event, dict):
                raise ContractError(f"event {index}: must be a JSON object", code="INVALID")
            given = event.get("eventID")
            if given is not None and (not isinstance(given, str) or not given.strip() or len(given) > 512):
                raise ContractError(
                    f"event {index}: eventID must be a non-empty string of at most 512 characters", code="INVALID"
                )
            event_id = given.strip() if isinstance(given, str) else event_hash_id(event, prefixes, ignore)
            where = f"event {index} ({event_id})"
            if event_id in seen:
                raise ContractError(f"{where}: eventID appears twice in the document", code="INVALID")
            seen.add(event_id)
            try:
                salt = commitment.check_salt(salts[index], where)
            except ValueError as exc:
                raise ContractError(str(exc), code="INVALID") from None
            stored = commitment.stored_event(event, event_id)
            try:
                facts = event_facts(stored)
            except ValueError as exc:
                raise ContractError(f"{where}: {exc}", code="INVALID") from None
            cte = classify(stored, facts)
            first = len(leaves)
            mine = commitment.event_leaves(stored, event_id, facts, cte, prefixes, salt, index)
            leaves.extend(mine)
            event_ref = refs("ev", event_id)
            # every record has its public header: asking for that is cheaper than the private read
            existing = (
                ctx.get_private(COLLECTION, event_key(event_ref)) if ctx.get_state(_key("hd", event_ref)) else None
            )
            if existing is not None:
                if isinstance(event.get("errorDeclaration"), dict):
                    owner = str(existing.get("capturedBy", "")).split("/", 1)[0]
                    if ctx.caller.org != owner and not inspector:
                        raise ContractError(
                            f"{where}: {NOT_ALLOWED} only {owner} (which captured it) or an inspector may declare "
                            f"it in error",
                            code="FORBIDDEN",
                        )
                    existing["errorDeclaration"] = event["errorDeclaration"]  # the event stays as committed
                    existing["declaredIn"] = ctx.tx_id
                    ctx.put_private(COLLECTION, event_key(event_ref), existing)
                    event_ids.append(event_id)
                    continue
                stored_hash, new_hash = recorded_hash(existing), event_hash_id(event, prefixes, ignore)
                if stored_hash == new_hash:
                    # The capturer drops such events before it submits (``captured``); one arriving here raced
                    # another capture of it, and the commitment already covers it: refuse, the capturer retries.
                    raise ContractError(
                        f"{where}: already captured (transaction {existing['txID']}, event hash {stored_hash})",
                        code="CONFLICT",
                    )
                raise ContractError(
                    f"{where}: eventID already names a different event (transaction {existing['txID']}): the "
                    f"stored event's hash is {stored_hash}, this event's is {new_hash}",
                    code="CONFLICT",
                )
            declares_nc = NONCONFORMANT in (facts.disposition, *facts.persistent_set)
            if declares_nc and not inspector:
                raise ContractError(
                    f"{where}: {NOT_ALLOWED} only an inspector of {config['inspection_org']} (role=inspector) "
                    f"may declare a lot non_conformant, not {ctx.caller.id}",
                    code="FORBIDDEN",
                )
            if inspector and facts.biz_step == "inspecting" and facts.disposition in ("conformant", NONCONFORMANT):
                for lot in facts.lots:
                    verdicts[refs("lot", lot)] = {
                        "disposition": facts.disposition,
                        "event": event_ref,
                        "time": facts.time_ms,
                    }
            elif declares_nc:
                for lot in facts.lots:
                    verdicts[refs("lot", lot)] = {
                        "disposition": NONCONFORMANT,
                        "event": event_ref,
                        "time": facts.time_ms,
                    }
            record = {
                "docType": DOC_EVENT,
                "eventID": event_id,
                "ref": event_ref,
                "eventType": facts.event_type,
                "eventTimeMs": facts.time_ms,
                "recordTimeMs": ctx.timestamp_ms,
                "action": facts.action,
                "bizStep": facts.biz_step,
                "disposition": facts.disposition,
                "readPoint": facts.read_point,
                "bizLocation": facts.biz_location,
                "transformationID": facts.transformation_id,
                "cte": cte,
                "lots": list(facts.lots),
                "captureID": capture_id,
                "capturedBy": ctx.caller.id,
                "txID": ctx.tx_id,
                "prefixes": document_prefixes,
                **({"ignoreFields": sorted(ignore)} if ignore else {}),  # so its hash can be recomputed
                "event": stored,
                "commitment": {
                    "txID": ctx.tx_id,
                    "salt": salt.hex(),
                    "first": first,
                    "lots": [leaf.lot for leaf in mine],
                },
            }
            self._own(ctx, refs, config, facts, event_ref, where, inspector, owners)
            self._index(ctx, refs, record, facts, cte)
            ctx.put_private(COLLECTION, event_key(event_ref), record)
            if extension(event, "alarm", prefixes):
                alarms += 1
            event_ids.append(event_id)
        computed = commitment.commit(leaves)
        if computed.count != count or computed.root.hex() != root:
            raise ContractError(
                f"the commitment does not match the events sent: expected root {computed.root.hex()} over "
                f"{computed.count} leaves, got {str(root)[:64]} over {count}",
                code="INVALID",
            )
        ctx.put_private(
            COLLECTION,
            _key("cap", ctx.tx_id),
            {"root": root, "count": count, "leaves": [leaf.hash.hex() for leaf in leaves]},
        )
        if verdicts:
            self._record_verdicts(ctx, verdicts)
        master = payload.get("masterData")
        if isinstance(master, dict):
            self._master_data(ctx, refs, master)
        ctx.set_event("EventsCaptured", {"captureID": capture_id, "count": len(event_ids), "alarms": alarms})
        return {"captureID": capture_id, "events": len(event_ids), "root": root, "count": count}

    def _own(
        self,
        ctx: Context,
        refs: _Refs,
        config: dict,
        facts: EventFacts,
        event_ref: str,
        where: str,
        inspector: bool,
        owners: dict[str, dict | None],
    ) -> None:
        """Record the owner of lots seen for the first time; check and record recalls."""
        if facts.biz_step == "sensor_reporting":
            return  # a logger's report says nothing about who owns what
        recall = RECALLED in (facts.disposition, *facts.persistent_set)
        lots = dict.fromkeys(refs("lot", lot) for lot in facts.lots)
        if recall:
            for container in facts.containers:
                for key, _ in ctx.get_prefix(_prefix("cont", refs("id", container))):
                    lots[_last(key)] = None
        for lot_ref in lots:
            key = _key("own", lot_ref)
            if lot_ref not in owners:
                owners[lot_ref] = ctx.get_state(key)
            owner = owners[lot_ref]
            if owner is None:
                if recall:
                    raise ContractError(
                        f"{where}: lot {refs.name(lot_ref)} is not on the ledger: nothing to recall", code="NOT_FOUND"
                    )
                owners[lot_ref] = {"org": ctx.caller.org, "recalled": []}
                ctx.put_state(key, owners[lot_ref])
                ctx.set_key_policy(key, _policy(ctx.caller.org, config["inspection_org"]))
                refs.remember(lot_ref, "lot")
                continue
            if not recall:
                continue
            if ctx.caller.org != owner["org"] and not inspector:
                raise ContractError(
                    f"{where}: {NOT_ALLOWED} only {owner['org']} (which owns lot {refs.name(lot_ref)}) or an "
                    f"inspector of {config['inspection_org']} may recall it, not {ctx.caller.id}",
                    code="FORBIDDEN",
                )
            owner["recalled"] = [*owner.get("recalled", []), event_ref]
            ctx.put_state(key, owner)  # under AND(owner, inspection agency): both peers must endorse

    def _index(self, ctx: Context, refs: _Refs, record: dict, facts: EventFacts, cte: str | None) -> None:
        event_ref = record["ref"]
        at = {"t": facts.time_ms}
        ctx.put_state(
            _key("hd", event_ref),
            {
                "docType": DOC_EVENT,
                "eventRef": event_ref,
                "eventType": facts.event_type,
                "eventTimeMs": facts.time_ms,
                "recordTimeMs": record["recordTimeMs"],
                "action": facts.action,
                "bizStep": facts.biz_step,
                "disposition": facts.disposition,
                "readPoint": refs("id", facts.read_point) if facts.read_point else None,
                "bizLocation": refs("id", facts.biz_location) if facts.biz_location else None,
                "transformationID": refs("xf", facts.transformation_id) if facts.transformation_id else None,
            },
        )
        roles = (
            ("epc", facts.epcs),
            ("parent", (facts.parent,) if facts.parent else ()),
            ("input", facts.inputs),
            ("output", facts.outputs),
            ("class", facts.classes),
            ("inclass", facts.input_classes),
            ("outclass", facts.output_classes),
            ("device", facts.devices),
        )
        for role, ids in roles:
            for value in ids:
                ctx.put_state(_key("ix", role, refs("id", value), event_ref), at)
                pattern = _gtin_level(value)
                if pattern is not None:
                    ctx.put_state(_key("ix", role, refs("pat", pattern), event_ref), at)
        lots = dict.fromkeys(refs("lot", lot) for lot in facts.lots)
        for container in facts.containers:
            for key, _ in ctx.get_prefix(_prefix("cont", refs("id", container))):
                lots[_last(key)] = None
        if facts.event_type != "AssociationEvent":  # associations go to the device indexes below
            kind = "lsr" if facts.biz_step == "sensor_reporting" else "lot"
            for lot in sorted(lots):
                ctx.put_state(_key(kind, lot, _t(facts.time_ms), event_ref), {"cte": cte, "step": facts.biz_step})
        if facts.event_type == "TransformationEvent" or facts.transformation_id:
            tref = refs("xf", facts.transformation_id or record["eventID"])
            refs.remember(tref, "xf")
            for lot in facts.input_lots:
                lref = refs("lot", lot)
                ctx.put_state(_key("xin", lref, tref), at)
                ctx.put_state(_key("xform", tref, "in", lref), {"t": facts.time_ms, "event": event_ref})
            for lot in facts.output_lots:
                lref = refs("lot", lot)
                ctx.put_state(_key("xout", lref, tref), at)
                ctx.put_state(_key("xform", tref, "out", lref), {"t": facts.time_ms, "event": event_ref})
        if facts.event_type == "AggregationEvent" and facts.parent:
            for lot in facts.lots:
                key = _key("cont", refs("id", facts.parent), refs("lot", lot))
                if facts.action == "DELETE":
                    ctx.delete_state(key)
                else:
                    ctx.put_state(key, {"t": facts.time_ms})
        if facts.event_type == "AssociationEvent":
            associated = dict.fromkeys(refs("lot", lot) for lot in facts.lots)
            if facts.parent:
                for key, _ in ctx.get_prefix(_prefix("cont", refs("id", facts.parent))):
                    associated[_last(key)] = None
            names = [refs.name(lot) for lot in associated]
            record["assocLots"] = sorted(name for name in names if name)
            for device in facts.devices:
                dref = refs("id", device)
                refs.remember(dref, "device")
                ctx.put_state(
                    _key("dev", dref, _t(facts.time_ms), event_ref), {"action": facts.action, "t": facts.time_ms}
                )
                for lot in sorted(associated):
                    ctx.put_state(
                        _key("lotdev", lot, _t(facts.time_ms), event_ref, dref),
                        {"d": dref, "action": facts.action, "t": facts.time_ms},
                    )

    def _record_verdicts(self, ctx: Context, verdicts: dict[str, dict]) -> None:
        by_shard: dict[str, dict[str, dict]] = {}
        for lot_ref, verdict in verdicts.items():
            by_shard.setdefault(_shard(lot_ref), {})[lot_ref] = verdict
        for shard, entries in sorted(by_shard.items()):
            register = ctx.get_state(shard) or {"docType": "inspection-register", "lots": {}}
            register["lots"].update(entries)
            ctx.put_state(shard, register)  # under AND(inspection agency's peer)

    def _master_data(self, ctx: Context, refs: _Refs, master: dict) -> None:
        """Store master data privately; its owner (first to record an entry) alone may change it later."""
        for vocabulary in master.get("vocabularyList") or []:
            if not isinstance(vocabulary, dict):
                continue
            kind = MASTER_KINDS.get(str(vocabulary.get("type", "")))
            if kind is None:
                continue
            for element in vocabulary.get("vocabularyElementList") or []:
                if not isinstance(element, dict) or not isinstance(element.get("id"), str):
                    continue
                attributes = {}
                for attribute in element.get("attributes") or []:
                    if isinstance(attribute, dict) and isinstance(attribute.get("id"), str):
                        name = attribute["id"].rsplit("#", 1)[-1].rsplit("/", 1)[-1]
                        attributes[name] = attribute.get("attribute")
                ident = gs1.normalise_id(element["id"])
                value = {"docType": "master-data", "kind": kind, "id": ident, "attributes": attributes}
                mref = refs("md", f"{kind}:{ident}")
                control_key = _key("mdc", mref)
                control = ctx.get_state(control_key)
                seal = refs.seal(value)
                if control is not None:
                    if control.get("seal") == seal:
                        continue  # unchanged: nothing to write, nobody's permission needed
                    if control.get("owner") != ctx.caller.org:
                        raise ContractError(
                            f"master data {ident}: {NOT_ALLOWED} only {control.get('owner')} (which recorded it) "
                            f"may change it, not {ctx.caller.org}",
                            code="FORBIDDEN",
                        )
                    ctx.put_state(control_key, {"owner": control["owner"], "seal": seal})  # under AND(owner's peer)
                else:
                    ctx.put_state(control_key, {"owner": ctx.caller.org, "seal": seal})
                    ctx.set_key_policy(control_key, _policy(ctx.caller.org))
                ctx.put_private(COLLECTION, _key("md", mref), value)

    def _master(self, ctx: Context, refs: _Refs, kind: str, ident: str) -> dict | None:
        """A master-data entry whose private value matches the seal its owner's peer endorsed, else None."""
        mref = refs("md", f"{kind}:{ident}")
        control = ctx.get_state(_key("mdc", mref))
        value = ctx.get_private(COLLECTION, _key("md", mref)) if control is not None else None
        if not isinstance(value, dict) or refs.seal(value) != control.get("seal"):
            return None  # absent, or a private write no owner endorsed
        return value

    # -- who must endorse ----------------------------------------------------------------------------------

    @evaluate
    def endorsers(self, ctx: Context, request: dict) -> list:
        """Organisations whose peers must endorse a recall (``recall``: lots) or closing an alarm (``alarm``)."""
        config = self._config(ctx)
        refs = _Refs(ctx)
        orgs = {ctx.caller.org}
        recall = request.get("recall") or []
        if not isinstance(recall, list):
            raise ContractError("recall must be a list of lots", code="INVALID")
        for lot in recall:
            owner = ctx.get_state(_key("own", refs("lot", _lot_key(str(lot)))))
            if owner is None:
                raise ContractError(f"lot {lot} is not on the ledger", code="NOT_FOUND")
            orgs.update((owner["org"], config["inspection_org"]))
        alarm_ref = request.get("alarm")
        if alarm_ref is not None:
            alarm = ctx.get_state(_key("alarm", str(alarm_ref)))
            if alarm is None:
                raise ContractError(f"there is no alarm {alarm_ref!r}", code="NOT_FOUND")
            orgs.update(alarm.get("owners", []))
        return sorted(orgs)

    @evaluate
    def owners(self, ctx: Context, lots: list) -> dict:
        """The owning organisation of each lot (None when the lot is not on the ledger)."""
        refs = _Refs(ctx)
        out = {}
        for lot in lots:
            key = _lot_key(str(lot))
            owner = ctx.get_state(_key("own", refs("lot", key)))
            out[key] = owner["org"] if owner else None
        return out

    # -- inspections and alarms ----------------------------------------------------------------------------

    @submit
    def raise_alarm(self, ctx: Context) -> dict:
        """Record an alarm (transient ``alarm``; idempotent by its id) and emit the ColdChainAlarm event."""
        self._config(ctx)
        refs = _Refs(ctx)
        alarm = _transient_json(ctx, ALARM_TRANSIENT, "an alarm")
        if not isinstance(alarm, dict):
            raise ContractError("transient 'alarm' must be a JSON object", code="INVALID")
        alarm_id = alarm.get("id")
        if not isinstance(alarm_id, str) or not alarm_id or len(alarm_id) > 256 or SEP in alarm_id:
            raise ContractError("alarm.id must be a non-empty string of at most 256 characters", code="INVALID")
        code = alarm.get("code")
        if not isinstance(code, str) or not code:
            raise ContractError("alarm.code must be a non-empty string", code="INVALID")
        lots = alarm.get("lots") or []
        if not isinstance(lots, list) or not lots or not all(isinstance(lot, str) for lot in lots):
            raise ContractError("alarm.lots must be a non-empty list of lot keys or Digital Links", code="INVALID")
        lot_keys = sorted({_lot_key(lot) for lot in lots})
        ref = refs("alarm", alarm_id)
        key = _key("alarm", ref)
        existing = ctx.get_state(key)
        if existing is not None:
            return {"ref": ref, "status": existing["status"]}
        owners = set()
        for lot in lot_keys:
            owner = ctx.get_state(_key("own", refs("lot", lot)))
            if owner is None:
                raise ContractError(f"alarm {alarm_id}: lot {lot} is not on the ledger", code="NOT_FOUND")
            owners.add(owner["org"])
        severity = alarm.get("severity") if isinstance(alarm.get("severity"), str) else "warning"
        ctx.put_state(key, {"status": "open", "owners": sorted(owners), "raisedAtMs": ctx.timestamp_ms})
        ctx.set_key_policy(key, _policy(*owners))  # closing it needs every owner's peer
        record = {
            "docType": "alarm",
            **{k: v for k, v in alarm.items() if k not in ("docType", "status", "lots", "ref")},
            "ref": ref,
            "lots": lot_keys,
            "severity": severity,
            "raisedBy": ctx.caller.id,
            "raisedAtMs": ctx.timestamp_ms,
            "txID": ctx.tx_id,
        }
        ctx.put_private(COLLECTION, _key("alarm", ref), record)
        for lot in lot_keys:
            ctx.put_state(_key("alot", refs("lot", lot), ref), {"t": ctx.timestamp_ms})
        ctx.set_event("ColdChainAlarm", {"ref": ref, "code": code, "severity": severity})
        return {"ref": ref, "status": "open"}

    @submit
    def close_alarm(self, ctx: Context, alarm_ref: str) -> dict:
        """Close an open alarm (its lots' owner only; the note travels as transient ``note``)."""
        self._config(ctx)
        key = _key("alarm", alarm_ref)
        state = ctx.get_state(key) if alarm_ref and SEP not in alarm_ref else None
        if state is None:
            raise ContractError(f"there is no alarm {alarm_ref!r}", code="NOT_FOUND")
        if state["status"] != "open":
            raise ContractError(f"alarm {alarm_ref!r} is already {state['status']}", code="CONFLICT")
        owners = state.get("owners", [])
        if ctx.caller.org not in owners:
            raise ContractError(
                f"{NOT_ALLOWED} only the owner of the alarm's lots ({', '.join(owners)}) may close alarm "
                f"{alarm_ref!r}, not {ctx.caller.id}",
                code="FORBIDDEN",
            )
        note = ctx.transient.get(NOTE_TRANSIENT, b"").decode("utf-8", "replace")[:1000]
        state.update(status="closed", closedAtMs=ctx.timestamp_ms)
        ctx.put_state(key, state)  # under AND(owners' peers)
        record = ctx.get_private(COLLECTION, _key("alarm", alarm_ref)) or {}
        record.update(closedBy=ctx.caller.id, closedAtMs=ctx.timestamp_ms, note=note)
        ctx.put_private(COLLECTION, _key("alarm", alarm_ref), record)
        ctx.set_event("ColdChainAlarmClosed", {"ref": alarm_ref})
        return {"ref": alarm_ref, "status": "closed"}

    def _alarm(self, ctx: Context, ref: str) -> dict | None:
        state = ctx.get_state(_key("alarm", ref))
        if state is None:
            return None
        record = ctx.get_private(COLLECTION, _key("alarm", ref)) or {}
        return {**record, "ref": ref, "status": state["status"], "owners": state.get("owners", [])}

    @evaluate
    def alarms(self, ctx: Context, open_only: bool) -> list:
        """Alarms, newest first."""
        rows = []
        for key, state in ctx.get_prefix(_prefix("alarm")):
            if open_only and state.get("status") != "open":
                continue
            alarm = self._alarm(ctx, _last(key))
            if alarm is not None:
                rows.append(alarm)
        return sorted(rows, key=lambda r: r.get("raisedAtMs", 0), reverse=True)

    @evaluate(public=True)
    def inspection(self, ctx: Context, lot: str) -> dict | None:
        """The inspection agency's latest verdict on a lot, or None."""
        refs = _Refs(ctx)
        lot_ref = refs("lot", _lot_key(lot))
        verdict = self._verdicts(ctx).get(lot_ref)
        return None if verdict is None else self._public_verdict(ctx, verdict)

    def _verdicts(self, ctx: Context) -> dict[str, dict]:
        verdicts: dict[str, dict] = {}
        for shard in range(SHARDS):
            register = ctx.get_state(_key("inspection", f"{shard:02d}")) or {"lots": {}}
            verdicts.update(register["lots"])
        return verdicts

    def _public_verdict(self, ctx: Context, verdict: dict) -> dict:
        out = {k: verdict[k] for k in ("disposition", "time") if k in verdict}
        record = ctx.get_private(COLLECTION, event_key(str(verdict.get("event"))))
        if record is not None:
            out["eventID"] = record["eventID"]
            result = extension(record["event"], "result", record.get("prefixes"))
            if result is not None:
                out["result"] = result
        return out

    # -- reading events ------------------------------------------------------------------------------------

    @evaluate
    def captured(self, ctx: Context, event_ids: list) -> dict:
        """Which of these eventIDs the ledger holds: each one's event hash, transaction, capture, error declaration.

        A capturer asks before it submits, so that re-capturing an event already on the ledger (the same event
        hash) is reported as done rather than refused, and an eventID naming different content is refused naming
        both hashes. The hash is recomputed from the event as committed, so it is the one the capturer computes.
        """
        if not isinstance(event_ids, list) or not all(isinstance(e, str) for e in event_ids):
            raise ContractError(f"captured takes a list of eventIDs, got {str(event_ids)[:60]!r}", code="INVALID")
        if len(event_ids) > MAX_EVENTS:
            raise ContractError(f"at most {MAX_EVENTS} eventIDs per call, got {len(event_ids)}", code="INVALID")
        refs = _Refs(ctx)
        found: dict[str, dict] = {}
        for event_id in dict.fromkeys(event_ids):
            event_ref = refs("ev", event_id)
            if not ctx.get_state(_key("hd", event_ref)):
                continue  # every record has its public header: asking for it is cheaper than the private read
            record = ctx.get_private(COLLECTION, event_key(event_ref))
            if record is None:
                continue
            found[event_id] = {
                "eventHash": recorded_hash(record),
                "txID": record["txID"],
                "captureID": record.get("captureID"),
                "errorDeclaration": record.get("errorDeclaration"),
            }
        return {"events": found}

    @evaluate
    def get_event(self, ctx: Context, event_id: str) -> dict:
        """One event record (the event as captured, with its transaction id)."""
        record = ctx.get_private(COLLECTION, event_key(_Refs(ctx)("ev", event_id)))
        if record is None:
            raise ContractError(f"there is no event {event_id!r}", code="NOT_FOUND")
        return as_declared(record)

    @evaluate
    def query_events(self, ctx: Context, params: dict) -> dict:
        """EPCIS simple event query (the common parameters), in event time order, one page at a time."""
        unknown = sorted(set(params) - QUERY_PARAMS)
        if unknown:
            raise ContractError(
                f"unknown query parameter(s) {', '.join(unknown)}; supported: {sorted(QUERY_PARAMS)}", code="INVALID"
            )
        refs = _Refs(ctx)
        per_page = params.get("perPage", 100)
        if _digits(per_page):
            per_page = int(per_page)
        if not isinstance(per_page, int) or isinstance(per_page, bool) or not 1 <= per_page <= MAX_PAGE:
            raise ContractError(
                f"perPage must be an integer from 1 to {MAX_PAGE}, got {per_page!r:.40}", code="INVALID"
            )
        after = None
        token = params.get("nextPageToken")
        if token is not None:
            time_text, sep, last_id = str(token).partition(SEP)
            if not sep or not _digits(time_text):
                raise ContractError("nextPageToken is not one this server issued", code="INVALID")
            after = (int(time_text), last_id)
        selector: dict[str, Any] = {"docType": DOC_EVENT}
        for name, (field, kind) in EQ_FIELDS.items():
            if name in params:
                values = [self._normal(refs, kind, v) for v in _values(params[name], name)]
                selector[field] = values[0] if len(values) == 1 else {"$in": values}
        for name, (field, operator) in TIME_FIELDS.items():
            if name in params:
                try:
                    bound = timestamps.to_ms(params[name])
                except timestamps.TimestampError as exc:
                    raise ContractError(f"{name}: {exc}", code="INVALID") from None
                selector.setdefault(field, {})
                if not isinstance(selector[field], dict):
                    selector[field] = {"$eq": selector[field]}
                selector[field][operator] = bound
        matches = [name for name in MATCH_ROLES if name in params]
        if matches:
            headers = self._by_objects(ctx, refs, params, matches)
            headers = [h for h in headers if _selects(h, selector)]
            headers.sort(key=lambda h: (h["eventTimeMs"], h["eventRef"]))
            if after is not None:
                headers = [h for h in headers if (h["eventTimeMs"], h["eventRef"]) > after]
            page = headers[: per_page + 1]
        else:
            if after is not None:
                selector = {
                    "$and": [
                        selector,
                        {
                            "$or": [
                                {"eventTimeMs": {"$gt": after[0]}},
                                {"eventTimeMs": after[0], "eventRef": {"$gt": after[1]}},
                            ]
                        },
                    ]
                }
            order = [{"eventTimeMs": "asc"}, {"eventRef": "asc"}]
            query = {"selector": selector, "sort": order, "limit": per_page + 1}
            page = [value for _, value in ctx.query(query)]
        more = len(page) > per_page
        page = page[:per_page]
        next_token = f"{page[-1]['eventTimeMs']}{SEP}{page[-1]['eventRef']}" if more and page else None
        records = [ctx.get_private(COLLECTION, event_key(h["eventRef"])) for h in page]
        return {"events": [as_declared(r) for r in records if r is not None], "nextPageToken": next_token}

    @staticmethod
    def _normal(refs: _Refs, kind: str | None, value: str) -> str:
        if kind in ("bizStep", "disposition"):
            return vocab.short(kind, value) or value
        if kind == "id":
            return refs("id", gs1.normalise_id(value))
        if kind in ("xf", "ev"):
            return refs(kind, value)
        return value

    def _by_objects(self, ctx: Context, refs: _Refs, params: dict, matches: list[str]) -> list[dict]:
        event_refs: set[str] | None = None
        for name in matches:
            found: set[str] = set()
            for value in _values(params[name], name):
                canonical = gs1.normalise_id(value)
                wanted = [refs("id", canonical)]
                if canonical.startswith(gs1.CANONICAL_DOMAIN) and canonical.count("/") <= 4:
                    wanted.append(refs("pat", canonical))  # a GTIN-level pattern: every finer identifier
                for role in MATCH_ROLES[name]:
                    for ref in wanted:
                        found.update(_last(key) for key, _ in ctx.get_prefix(_prefix("ix", role, ref)))
            event_refs = found if event_refs is None else event_refs & found
        headers = []
        for event_ref in sorted(event_refs or ()):
            header = ctx.get_state(_key("hd", event_ref))
            if header is not None:
                headers.append(header)
        return headers

    # -- lots, trace and journeys --------------------------------------------------------------------------

    def _edges(self, ctx: Context, lot_ref: str, direction: str) -> list[dict]:
        side, other = ("xout", "in") if direction == "back" else ("xin", "out")
        edges = []
        for key, value in ctx.get_prefix(_prefix(side, lot_ref)):
            tref = _last(key)
            for other_key, other_value in ctx.get_prefix(_prefix("xform", tref, other)):
                neighbour = _last(other_key)
                edges.append(
                    {
                        "from": neighbour if direction == "back" else lot_ref,
                        "to": lot_ref if direction == "back" else neighbour,
                        "transformation": tref,
                        "event": other_value.get("event"),
                        "t": value.get("t"),
                        "next": neighbour,
                    }
                )
        return edges

    def _walk(self, ctx: Context, start: str, direction: str) -> tuple[list[str], list[dict]]:
        """Lot references reached from ``start`` through transformations, and the edges (by reference)."""
        seen = [start]
        edges: list[dict] = []
        frontier = [start]
        while frontier and len(seen) < TRACE_LIMIT:
            lot = frontier.pop(0)
            for edge in self._edges(ctx, lot, direction):
                edges.append({k: v for k, v in edge.items() if k != "next"})
                if edge["next"] not in seen:
                    seen.append(edge["next"])
                    frontier.append(edge["next"])
        return seen, edges

    def _known(self, ctx: Context, refs: _Refs, lot: str) -> str:
        """The reference of a lot that is on the ledger (ContractError otherwise)."""
        start = _lot_key(lot)
        lot_ref = refs("lot", start)
        if not ctx.get_prefix(_prefix("lot", lot_ref), limit=1) and not ctx.get_prefix(
            _prefix("xout", lot_ref), limit=1
        ):
            raise ContractError(f"lot {start} is not on the ledger", code="NOT_FOUND")
        return lot_ref

    @evaluate
    def trace(self, ctx: Context, lot: str, direction: str) -> dict:
        """Lots upstream (``back``) or downstream (``forward``) of a lot through transformations."""
        if direction not in ("back", "forward"):
            raise ContractError("direction must be 'back' or 'forward'", code="INVALID")
        refs = _Refs(ctx)
        start_ref = self._known(ctx, refs, lot)
        lot_refs, edges = self._walk(ctx, start_ref, direction)
        linked = {e["from"] for e in edges} if direction == "forward" else {e["to"] for e in edges}
        names = {ref: refs.name(ref) or ref for ref in lot_refs}
        return {
            "lot": names[start_ref],
            "direction": direction,
            "lots": [names[x] for x in lot_refs],
            "edges": [
                {
                    "from": names.get(e["from"], e["from"]),
                    "to": names.get(e["to"], e["to"]),
                    "transformation": refs.name(e["transformation"]),
                    "eventID": self._event_id(ctx, e["event"]),
                    "t": e["t"],
                }
                for e in edges
            ],
            "ends": [names[x] for x in lot_refs if x not in linked],
            "summaries": {names[x]: self._lot_summary(ctx, x, names[x]) for x in lot_refs},
        }

    def _event_id(self, ctx: Context, event_ref: str | None) -> str | None:
        record = ctx.get_private(COLLECTION, event_key(event_ref)) if event_ref else None
        return None if record is None else record["eventID"]

    def _lot_summary(self, ctx: Context, lot_ref: str, name: str) -> dict:
        rows = ctx.get_prefix(_prefix("lot", lot_ref))
        summary: dict[str, Any] = {"lot": name, "events": len(rows)}
        if rows:
            first_key = rows[0][0]
            last_key, last = rows[-1]
            summary["first_ms"] = int(first_key.split(SEP)[2])
            summary["last_ms"] = int(last_key.split(SEP)[2])
            summary["last_cte"] = last.get("cte")
            summary["last_step"] = last.get("step")
            ctes = [value.get("cte") for _, value in rows]
            summary["ctes"] = [c for c in dict.fromkeys(ctes) if c]
        return summary

    @evaluate
    def lots(self, ctx: Context) -> list:
        """Every lot with its first and last business event, inspection verdict, recall flag and open alarms."""
        refs = _Refs(ctx)
        grouped: dict[str, list[tuple[str, dict]]] = {}
        for key, value in ctx.get_prefix(_prefix("lot")):
            grouped.setdefault(key.split(SEP)[1], []).append((key, value))
        recalled = {_last(key) for key, value in ctx.get_prefix(_prefix("own")) if value.get("recalled")}
        open_alarms: dict[str, int] = {}
        states = {_last(key): value for key, value in ctx.get_prefix(_prefix("alarm"))}
        for key, _ in ctx.get_prefix(_prefix("alot")):
            lot_ref, alarm_ref = key.split(SEP)[1:3]
            if states.get(alarm_ref, {}).get("status") == "open":
                open_alarms[lot_ref] = open_alarms.get(lot_ref, 0) + 1
        verdicts = self._verdicts(ctx)
        out = []
        for lot_ref, rows in grouped.items():
            name = refs.name(lot_ref)
            if name is None:
                continue
            last_key, last = rows[-1]
            last_event = ctx.get_private(COLLECTION, event_key(last_key.split(SEP)[3])) or {}
            verdict = verdicts.get(lot_ref)
            out.append(
                {
                    "lot": name,
                    "events": len(rows),
                    "first_ms": int(rows[0][0].split(SEP)[2]),
                    "last_ms": int(last_key.split(SEP)[2]),
                    "last_cte": last.get("cte"),
                    "last_step": last.get("step"),
                    "last_location": last_event.get("bizLocation") or last_event.get("readPoint"),
                    "in_transit": last.get("cte") == "shipping" or last.get("step") in ("departing", "transporting"),
                    "recalled": lot_ref in recalled,
                    "open_alarms": open_alarms.get(lot_ref, 0),
                    "inspection": None if verdict is None else self._public_verdict(ctx, verdict),
                }
            )
        return sorted(out, key=lambda row: row["lot"])

    def _records(self, ctx: Context, kind: str, lot_ref: str, until: int | None = None) -> list[dict]:
        records = []
        for key, _ in ctx.get_prefix(_prefix(kind, lot_ref)):
            if until is not None and int(key.split(SEP)[2]) > until:
                break
            record = ctx.get_private(COLLECTION, event_key(key.split(SEP)[3]))
            if record is not None:
                records.append(record)
        return records

    @evaluate
    def lot_events(self, ctx: Context, lot: str, sensor_reports: bool) -> list:
        """Event records of one lot in time order (business events; sensor reports on request)."""
        refs = _Refs(ctx)
        return [
            as_declared(r) for r in self._records(ctx, "lsr" if sensor_reports else "lot", refs("lot", _lot_key(lot)))
        ]

    @evaluate
    def master_data(self, ctx: Context) -> dict:
        """Location and product master data (members only): canonical id → attributes."""
        out: dict[str, dict] = {"locations": {}, "products": {}}
        refs = _Refs(ctx)
        for key, control in ctx.get_prefix(_prefix("mdc")):
            value = ctx.get_private(COLLECTION, _key("md", _last(key)))
            if isinstance(value, dict) and refs.seal(value) == control.get("seal"):
                out["locations" if value["kind"] == "loc" else "products"][value["id"]] = value["attributes"]
        return out

    @evaluate
    def lot_origin(self, ctx: Context, lot: str) -> dict:
        """Where a lot comes from: its creating event and the landing events of the lots it was made from."""
        refs = _Refs(ctx)
        start = _lot_key(lot)
        start_ref = refs("lot", start)
        upstream, _ = self._walk(ctx, start_ref, "back")
        origin: dict[str, Any] = {"lot": start, "created": None, "landings": []}
        for item in upstream:
            for key, value in ctx.get_prefix(_prefix("lot", item)):
                record = ctx.get_private(COLLECTION, event_key(key.split(SEP)[3]))
                if record is None:
                    continue
                if item == start_ref and origin["created"] is None:
                    origin["created"] = _member_event(record) | {"location": record.get("bizLocation")}
                if value.get("cte") == "first_land_based_receiving":
                    origin["landings"].append(
                        _member_event(record) | {"kdes": kdes(record["event"], event_facts(record["event"]))}
                    )
        return origin

    @evaluate
    def device_associations(self, ctx: Context, device: str) -> dict:
        """Association intervals of sensor devices (all, or one): device → [{from, to, lots, parent}]."""
        refs = _Refs(ctx)
        prefix = _prefix("dev", refs("id", gs1.normalise_id(device))) if device else _prefix("dev")
        out: dict[str, list[dict]] = {}
        for key, value in ctx.get_prefix(prefix):
            name = refs.name(key.split(SEP)[1])
            if name is None:
                continue
            intervals = out.setdefault(name, [])
            if value.get("action") == "DELETE":
                for interval in intervals:
                    if interval["to"] is None:
                        interval["to"] = value["t"]
                continue
            record = ctx.get_private(COLLECTION, event_key(_last(key))) or {}
            intervals.append(
                {
                    "from": value["t"],
                    "to": None,
                    "lots": record.get("assocLots", []),
                    "parent": _parent(record),
                    "readPoint": record.get("readPoint"),
                    "eventID": record.get("eventID"),
                }
            )
        return out

    def _device_intervals(self, ctx: Context, refs: _Refs, lot_ref: str, until: int | None) -> list[dict]:
        open_at: dict[str, int] = {}
        intervals = []
        name = refs.name(lot_ref)
        for _, value in ctx.get_prefix(_prefix("lotdev", lot_ref)):
            device, at = refs.name(value["d"]), value["t"]
            if device is None:
                continue
            if until is not None and at >= until:
                break
            if value.get("action") == "DELETE":
                if device in open_at:
                    intervals.append({"device": device, "from": open_at.pop(device), "to": at, "lot": name})
            elif device not in open_at:
                open_at[device] = at
        for device, start in open_at.items():
            intervals.append({"device": device, "from": start, "to": until, "lot": name})
        return sorted(intervals, key=lambda i: i["from"])

    def _upstream(self, ctx: Context, refs: _Refs, lot: str) -> tuple[str, list[str], list[dict], dict[str, int]]:
        """A lot's reference, the lots it was made from, the edges, and when each upstream lot's history ends."""
        start_ref = self._known(ctx, refs, lot)
        upstream, edges = self._walk(ctx, start_ref, "back")
        cut: dict[str, int] = {}  # an upstream lot's own history ends when it was transformed
        for edge in edges:
            t = edge.get("t") or 0
            cut[edge["from"]] = min(cut.get(edge["from"], t), t)
        return start_ref, upstream, edges, cut

    @evaluate
    def lot_sensors(self, ctx: Context, lot: str) -> dict:
        """Which loggers watched a lot and its upstream lots when, and their anchored batches (members only)."""
        refs = _Refs(ctx)
        start_ref, upstream, _, cut = self._upstream(ctx, refs, lot)
        intervals: list[dict] = []
        anchors = []
        for item in upstream:
            until = None if item == start_ref else cut.get(item)
            intervals.extend(self._device_intervals(ctx, refs, item, until))
            for record in self._records(ctx, "lsr", item, until):
                summary = commitment.sensor_summary(record["event"], record.get("prefixes")) or {}
                anchors.append({"eventID": record["eventID"], "txID": record["txID"], **summary})
        anchors.sort(key=lambda a: (a.get("start_ms") or 0, a.get("device") or ""))
        return {"lot": refs.name(start_ref), "device_intervals": intervals, "sensor_batches": anchors}

    @evaluate(public=True)
    def lot_journey(self, ctx: Context, lot: str) -> dict:
        """What a consumer may see of a lot: its way from landing, verdicts, alarms — each step with its proof."""
        refs = _Refs(ctx)
        start_ref, upstream, edges, cut = self._upstream(ctx, refs, lot)
        names = {ref: refs.name(ref) or ref for ref in upstream}
        events: list[dict] = []
        seen: set[str] = set()
        alarms: list[dict] = []
        verdicts = self._verdicts(ctx)
        inspections, recalled = {}, []
        captures: dict[str, list[bytes]] = {}
        for item in upstream:
            until = None if item == start_ref else cut.get(item)
            for record in self._records(ctx, "lot", item, until):
                if record["eventID"] in seen:
                    continue
                step = self._proven_step(ctx, record, names[item], captures)
                if step is not None:
                    seen.add(record["eventID"])
                    events.append(step)
            for key, _ in ctx.get_prefix(_prefix("alot", item)):
                alarm = self._alarm(ctx, _last(key))
                if alarm is not None and alarm["ref"] not in {a["ref"] for a in alarms}:
                    public = {k: alarm.get(k) for k in PUBLIC_ALARM if k in alarm}
                    public["lots"] = [x for x in alarm.get("lots", []) if x in names.values()]  # its own lots only
                    alarms.append(public)
            if item in verdicts:
                inspections[names[item]] = self._public_verdict(ctx, verdicts[item])
            owner = ctx.get_state(_key("own", item))
            if owner is not None and owner.get("recalled"):
                recalled.append(names[item])
        events.sort(key=lambda e: (e["eventTimeMs"], e["eventID"]))
        locations = {}
        for event in events:
            ident = event.get("location")
            if ident and ident not in locations:
                master = self._master(ctx, refs, "loc", ident)
                if master is not None:
                    locations[ident] = {k: v for k, v in master["attributes"].items() if k in PUBLIC_LOCATION}
        products = {}
        for item in upstream:
            gtin = names[item].split("/", 1)[0]
            master = self._master(ctx, refs, "prod", f"{gs1.CANONICAL_DOMAIN}/01/{gtin}")
            if master is not None:
                products[gtin] = {k: v for k, v in master["attributes"].items() if k in PUBLIC_PRODUCT}
        return {
            "lot": names[start_ref],
            "upstream": [names[x] for x in upstream],
            "edges": [{"from": names[e["from"]], "to": names[e["to"]], "t": e["t"]} for e in edges],
            "events": events,
            "alarms": alarms,
            "inspections": inspections,
            "recalled": recalled,
            "locations": locations,
            "products": products,
        }

    def _proven_step(self, ctx: Context, record: dict, lot: str, captures: dict[str, list[bytes]]) -> dict | None:
        """An event as a consumer of ``lot`` sees it — its leaf for that lot — with the path to its capture's root."""
        committed = record.get("commitment") or {}
        lots = committed.get("lots", [])
        position = lots.index(lot) if lot in lots else (lots.index(None) if None in lots else None)
        if position is None:
            return None  # the event names other lots only: showing it would name them
        tx_id = committed["txID"]
        if tx_id not in captures:
            capture = ctx.get_private(COLLECTION, _key("cap", tx_id)) or {"leaves": []}
            captures[tx_id] = [bytes.fromhex(h) for h in capture["leaves"]]
        leaf_hashes = captures[tx_id]
        index = committed["first"] + position
        if index >= len(leaf_hashes):
            return None
        text = leaf_texts(record)[position]
        leaf = parse_json(text)
        return {
            "eventID": leaf["eventID"],
            "txID": tx_id,
            "eventTimeMs": leaf["eventTime"],
            "offset": leaf["offset"],
            "eventType": leaf["eventType"],
            "bizStep": leaf["bizStep"],
            "disposition": leaf["disposition"],
            "cte": leaf["cte"],
            "location": leaf["location"],
            "lot": leaf["lot"],
            "kdes": leaf["kdes"],
            "commitment": {
                "leaf": text,
                "index": index,
                "count": len(leaf_hashes),
                "path": [h.hex() for h in merkle.inclusion_proof(leaf_hashes, index)],
            },
        }

    @evaluate
    def event_commitment(self, ctx: Context, event_id: str) -> dict:
        """An event's first leaf with its path to the capture root, and the salt (members: reading proofs)."""
        record = ctx.get_private(COLLECTION, event_key(_Refs(ctx)("ev", event_id)))
        if record is None:
            raise ContractError(f"there is no event {event_id!r}", code="NOT_FOUND")
        committed = record["commitment"]
        capture = ctx.get_private(COLLECTION, _key("cap", committed["txID"])) or {"leaves": []}
        leaf_hashes = [bytes.fromhex(h) for h in capture["leaves"]]
        index = committed["first"]
        return {
            "eventID": event_id,
            "txID": committed["txID"],
            "leaf": leaf_texts(record)[0],
            "index": index,
            "count": len(leaf_hashes),
            "path": [h.hex() for h in merkle.inclusion_proof(leaf_hashes, index)],
            "salt": committed["salt"],
            "event": record["event"],
            "prefixes": record.get("prefixes", {}),
        }


def leaf_texts(record: dict) -> list[str]:
    """An event record's leaves (canonical JSON), rebuilt from the event as committed and its salt."""
    committed = record["commitment"]
    event = record["event"]
    leaves = commitment.event_leaves(
        event,
        record["eventID"],
        event_facts(event),
        record.get("cte"),
        context_prefixes([record.get("prefixes") or {}]),
        bytes.fromhex(committed["salt"]),
        0,
    )
    return [leaf.data.decode() for leaf in leaves]


def recorded_hash(record: dict) -> str:
    """The CBV 2.0 event hash ID of an event as committed (its document's prefixes and ignoreFields as recorded)."""
    prefixes = context_prefixes([record.get("prefixes") or {}])
    return event_hash_id(record["event"], prefixes, record.get("ignoreFields") or ())


def as_declared(record: dict) -> dict:
    """An event record as members read it: with its error declaration, if one was made later, in the event."""
    if "declaredIn" not in record:
        return record
    return {**record, "event": {**record["event"], "errorDeclaration": record["errorDeclaration"]}}


def _parent(record: dict) -> str | None:
    parent = (record.get("event") or {}).get("parentID")
    return gs1.normalise_id(parent) if isinstance(parent, str) else None


def _shard(lot_ref: str) -> str:
    return _key("inspection", f"{int(lot_ref[:2], 16) % SHARDS:02d}")


def _member_event(record: dict) -> dict:
    """An event's when, where and what, as members see it in origins."""
    event = record["event"]
    facts = event_facts(event)
    return {
        "eventID": record["eventID"],
        "txID": record["txID"],
        "eventTimeMs": record["eventTimeMs"],
        "offset": facts.offset,
        "eventType": record["eventType"],
        "bizStep": record["bizStep"],
        "disposition": record["disposition"],
        "cte": record.get("cte"),
        "location": record.get("bizLocation") or record.get("readPoint"),
        "lots": record.get("lots", []),
    }


def _selects(record: dict, selector: dict) -> bool:
    """Whether an event header matches an (equality / $in / range) selector, as the state query would."""
    for field, condition in selector.items():
        value = record.get(field)
        if isinstance(condition, dict):
            for operator, operand in condition.items():
                ok = {
                    "$in": lambda v, o: v in o,
                    "$gte": lambda v, o: v is not None and v >= o,
                    "$lt": lambda v, o: v is not None and v < o,
                    "$eq": lambda v, o: v == o,
                }[operator](value, operand)
                if not ok:
                    return False
        elif value != condition:
            return False
    return True
