"""The cold-chain contract: EPCIS events on the ledger, indexed for queries, trace and the consumer journey.

Every organisation of the ``coldchain`` channel captures its own EPCIS 2.0 events through :meth:`ColdChain.capture`.
A call carries one whole EPCIS document's events, so a document is recorded entirely in one transaction or not
at all. Each event is stored under its ``eventID`` (or, when it has none, its CBV 2.0 event hash ID, computed
here so that every peer derives the same key) together with the transaction id that recorded it, which is what
lets anyone later fetch a Merkle proof of the event. The contract also writes index keys — by object, by lot
and time, by transformation, by device association — so that queries, trace and journeys are range scans over
composite keys rather than scans of every event (the state database has no array-contains operator).

Non-conformance is the inspection agency's call. At :meth:`init` the contract creates the inspection register —
16 shard keys holding each inspected lot's verdict — and puts a *key-level endorsement policy* on them
(``AND('<inspection org>.peer')``). An event that declares a lot ``non_conformant`` (or an inspector's
``inspecting`` verdict) must update the register, so its transaction is valid only if the inspection agency's
peer endorsed it, whatever the contract's own policy; the contract additionally refuses such events from callers
without the ``inspector`` role of that organisation.

Alarms from the sensor rules (:meth:`raise_alarm`) are recorded and emitted as contract events
(``ColdChainAlarm``) for the dashboard and any subscriber.
"""

from __future__ import annotations

import hashlib
from typing import Any

from consortia.apps.coldchain import gs1, timestamps, vocab
from consortia.apps.coldchain.cte import classify, kdes
from consortia.apps.coldchain.eventhash import STANDARD_PREFIXES, context_prefixes, event_hash_id
from consortia.apps.coldchain.facts import EventFacts, event_facts, extension
from consortia.contracts import Context, Contract, ContractError, evaluate, submit

SEP = "\x1f"
CONFIG_KEY = "config"
SHARDS = 16
MAX_EVENTS = 5000
MAX_PAGE = 1000
TRACE_LIMIT = 500

DOC_EVENT = "epcis-event"
NONCONFORMANT = "non_conformant"

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
EQ_FIELDS = {
    "EQ_bizStep": ("bizStep", "bizStep"),
    "EQ_disposition": ("disposition", "disposition"),
    "EQ_action": ("action", None),
    "EQ_bizLocation": ("bizLocation", "id"),
    "EQ_readPoint": ("readPoint", "id"),
    "EQ_eventID": ("eventID", None),
    "EQ_transformationID": ("transformationID", None),
    "eventType": ("eventType", None),
}
TIME_FIELDS = {
    "GE_eventTime": ("eventTimeMs", "$gte"),
    "LT_eventTime": ("eventTimeMs", "$lt"),
    "GE_recordTime": ("recordTimeMs", "$gte"),
    "LT_recordTime": ("recordTimeMs", "$lt"),
}
QUERY_PARAMS = frozenset({*MATCH_ROLES, *EQ_FIELDS, *TIME_FIELDS, "perPage", "nextPageToken"})

PUBLIC_KDES = (
    "species_scientific_name",
    "species",
    "market_name",
    "market_name_ko",
    "harvest_start",
    "harvest_end",
    "catch_area",
    "vessel_name",
    "fishing_gear",
    "result",
    "resultKo",
    "histaminePpm",
    "note",
    "input_lots",
    "output_lots",
)


def _key(*parts: str) -> str:
    return SEP.join(parts)


def _prefix(*parts: str) -> str:
    return SEP.join(parts) + SEP


def _t(ms: int) -> str:
    return f"{max(ms, 0):013d}"


def event_key(event_id: str) -> str:
    """State key of an event record."""
    return _key("ev", event_id)


def _shard(lot: str) -> str:
    return _key("inspection", f"{hashlib.sha256(lot.encode()).digest()[0] % SHARDS:02d}")


def _lot_key(text: str) -> str:
    try:
        return gs1.LotId.parse(text).key
    except gs1.GS1Error as exc:
        raise ContractError(str(exc)) from None


def _values(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        items = [v.strip() for v in value.replace("|", ",").split(",")]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise ContractError(f"{name} must be a string or a list of strings")
    items = [v for v in items if v]
    if not items:
        raise ContractError(f"{name} is empty")
    return items


def _normal(kind: str | None, value: str) -> str:
    if kind in ("bizStep", "disposition"):
        return vocab.short(kind, value) or value
    if kind == "id":
        return gs1.normalise_id(value)
    return value


class ColdChain(Contract):
    """EPCIS capture and query, lots, trace, inspections and alarms for the seafood cold chain."""

    name = "coldchain"
    version = "1.0"

    # -- set-up --------------------------------------------------------------------------------------------

    @submit
    def init(self, ctx: Context, inspection_org: str) -> dict:
        """Name the inspection agency and create its register under a key-level policy (once)."""
        if ctx.get_state(CONFIG_KEY) is not None:
            raise ContractError("the cold-chain contract is already initialised")
        if inspection_org not in ctx.channel_orgs:
            raise ContractError(f"{inspection_org!r} is not a member of channel {ctx.channel!r}")
        policy = f"AND('{inspection_org}.peer')"
        for shard in range(SHARDS):
            key = _key("inspection", f"{shard:02d}")
            ctx.put_state(key, {"docType": "inspection-register", "lots": {}})
            ctx.set_key_policy(key, policy)
        config = {"docType": "config", "inspection_org": inspection_org, "inspection_policy": policy}
        ctx.put_state(CONFIG_KEY, config)
        return config

    def _config(self, ctx: Context) -> dict:
        config = ctx.get_state(CONFIG_KEY)
        if config is None:
            raise ContractError("the cold-chain contract is not initialised: call init(<inspection org>) first")
        return config

    # -- capture -------------------------------------------------------------------------------------------

    @submit
    def capture(self, ctx: Context, events: list, context: Any, meta: dict) -> dict:
        """Record one EPCIS document's events, all or none; return the capture id and event ids."""
        config = self._config(ctx)
        if not events:
            raise ContractError("a capture needs at least one event")
        if len(events) > MAX_EVENTS:
            raise ContractError(f"a capture holds at most {MAX_EVENTS} events, got {len(events)}")
        prefixes = context_prefixes(context)
        document_prefixes = {k: v for k, v in prefixes.items() if k not in STANDARD_PREFIXES}
        capture_id = meta.get("captureID") if isinstance(meta.get("captureID"), str) else ctx.tx_id
        inspector = ctx.caller.org == config["inspection_org"] and ctx.caller.role == "inspector"
        verdicts: dict[str, dict] = {}
        event_ids: list[str] = []
        seen: set[str] = set()
        lots: set[str] = set()
        alarms = 0
        for index, event in enumerate(events):
            if not isinstance(event, dict):
                raise ContractError(f"event {index}: must be a JSON object")
            given = event.get("eventID")
            if given is not None and (not isinstance(given, str) or not given.strip() or len(given) > 512):
                raise ContractError(f"event {index}: eventID must be a non-empty string of at most 512 characters")
            event_id = given.strip() if isinstance(given, str) else event_hash_id(event, prefixes)
            where = f"event {index} ({event_id})"
            if event_id in seen:
                raise ContractError(f"{where}: eventID appears twice in the document")
            seen.add(event_id)
            try:
                facts = event_facts(event)
            except ValueError as exc:
                raise ContractError(f"{where}: {exc}") from None
            existing = ctx.get_state(event_key(event_id))
            if existing is not None:
                if isinstance(event.get("errorDeclaration"), dict):
                    owner = str(existing.get("capturedBy", "")).split("/", 1)[0]
                    if ctx.caller.org != owner and not inspector:
                        raise ContractError(
                            f"{where}: only {owner} (which captured it) or an inspector may declare it in error"
                        )
                    existing["errorDeclaration"] = event["errorDeclaration"]
                    existing["event"]["errorDeclaration"] = event["errorDeclaration"]
                    ctx.put_state(event_key(event_id), existing)
                    event_ids.append(event_id)
                    continue
                raise ContractError(f"{where}: already captured (transaction {existing['txID']})")
            declares_nc = NONCONFORMANT in (facts.disposition, *facts.persistent_set)
            if declares_nc and not inspector:
                raise ContractError(
                    f"{where}: only an inspector of {config['inspection_org']} (role=inspector) may declare "
                    f"a lot non_conformant"
                )
            if inspector and facts.biz_step == "inspecting" and facts.disposition in ("conformant", NONCONFORMANT):
                for lot in facts.lots:
                    verdicts[lot] = {
                        "disposition": facts.disposition,
                        "eventID": event_id,
                        "time": facts.time_ms,
                        "result": extension(event, "result", prefixes),
                        "by": ctx.caller.id,
                    }
            elif declares_nc:
                for lot in facts.lots:
                    verdicts[lot] = {"disposition": NONCONFORMANT, "eventID": event_id, "time": facts.time_ms}
            stored = {"eventID": event_id, **{k: v for k, v in event.items() if k != "eventID"}}
            cte = classify(event, facts)
            record = {
                "docType": DOC_EVENT,
                "eventID": event_id,
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
                "event": stored,
            }
            ctx.put_state(event_key(event_id), record)
            self._index(ctx, event_id, facts, cte)
            if extension(event, "alarm", prefixes):
                alarms += 1
            event_ids.append(event_id)
            lots.update(facts.lots)
        if verdicts:
            self._record_verdicts(ctx, verdicts)
        master = meta.get("masterData")
        if isinstance(master, dict):
            self._master_data(ctx, master)
        ctx.set_event(
            "EventsCaptured",
            {"captureID": capture_id, "count": len(event_ids), "lots": sorted(lots), "alarms": alarms},
        )
        return {"captureID": capture_id, "eventIDs": event_ids}

    def _index(self, ctx: Context, event_id: str, facts: EventFacts, cte: str | None) -> None:
        at = {"t": facts.time_ms}
        roles = (
            ("epc", facts.epcs),
            ("parent", (facts.parent,) if facts.parent else ()),
            ("input", facts.inputs),
            ("output", facts.outputs),
            ("class", facts.classes),
            ("inclass", facts.input_classes),
            ("outclass", facts.output_classes),
        )
        for role, ids in roles:
            for value in ids:
                ctx.put_state(_key("ix", role, value, event_id), at)
        for device in facts.devices:
            ctx.put_state(_key("ix", "device", device, event_id), at)
        lots = set(facts.lots)
        for container in facts.containers:
            for key, _ in ctx.get_prefix(_prefix("cont", container)):
                lots.add(key.rsplit(SEP, 1)[1])
        if facts.event_type != "AssociationEvent":  # associations go to the device indexes below
            kind = "lsr" if facts.biz_step == "sensor_reporting" else "lot"
            for lot in sorted(lots):
                ctx.put_state(_key(kind, lot, _t(facts.time_ms), event_id), {"cte": cte, "step": facts.biz_step})
        if facts.disposition == "recalled" or "recalled" in facts.persistent_set:
            for lot in sorted(lots):
                ctx.put_state(_key("recall", lot, event_id), at)
        if facts.event_type == "TransformationEvent" or facts.transformation_id:
            tkey = facts.transformation_id or event_id
            for lot in facts.input_lots:
                ctx.put_state(_key("xin", lot, tkey), at)
                ctx.put_state(_key("xform", tkey, "in", lot), {"t": facts.time_ms, "eventID": event_id})
            for lot in facts.output_lots:
                ctx.put_state(_key("xout", lot, tkey), at)
                ctx.put_state(_key("xform", tkey, "out", lot), {"t": facts.time_ms, "eventID": event_id})
        if facts.event_type == "AggregationEvent" and facts.parent:
            for lot in facts.lots:
                key = _key("cont", facts.parent, lot)
                if facts.action == "DELETE":
                    ctx.delete_state(key)
                else:
                    ctx.put_state(key, {"t": facts.time_ms, "eventID": event_id})
        if facts.event_type == "AssociationEvent":
            assoc_lots = set(facts.lots)
            if facts.parent:
                for key, _ in ctx.get_prefix(_prefix("cont", facts.parent)):
                    assoc_lots.add(key.rsplit(SEP, 1)[1])
            for device in facts.devices:
                value = {
                    "action": facts.action,
                    "parent": facts.parent,
                    "lots": sorted(assoc_lots),
                    "t": facts.time_ms,
                    "eventID": event_id,
                    "readPoint": facts.read_point,
                }
                ctx.put_state(_key("dev", device, _t(facts.time_ms), event_id), value)
                for lot in sorted(assoc_lots):
                    ctx.put_state(
                        _key("lotdev", lot, _t(facts.time_ms), event_id),
                        {"device": device, "action": facts.action, "t": facts.time_ms},
                    )

    def _record_verdicts(self, ctx: Context, verdicts: dict[str, dict]) -> None:
        by_shard: dict[str, dict[str, dict]] = {}
        for lot, verdict in verdicts.items():
            by_shard.setdefault(_shard(lot), {})[lot] = verdict
        for shard, entries in sorted(by_shard.items()):
            register = ctx.get_state(shard) or {"docType": "inspection-register", "lots": {}}
            register["lots"].update(entries)
            ctx.put_state(shard, register)

    def _master_data(self, ctx: Context, master: dict) -> None:
        for vocabulary in master.get("vocabularyList") or []:
            if not isinstance(vocabulary, dict):
                continue
            kind = str(vocabulary.get("type", ""))
            prefix = {
                "urn:epcglobal:epcis:vtype:BusinessLocation": "loc",
                "urn:epcglobal:epcis:vtype:ReadPoint": "loc",
                "urn:epcglobal:epcis:vtype:EPCClass": "prod",
            }.get(kind)
            if prefix is None:
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
                ctx.put_state(_key(prefix, ident), {"docType": "master-data", "id": ident, "attributes": attributes})

    # -- inspections and alarms ----------------------------------------------------------------------------

    @submit
    def raise_alarm(self, ctx: Context, alarm: dict) -> dict:
        """Record an alarm (idempotent by its id) and emit the ColdChainAlarm event."""
        alarm_id = alarm.get("id")
        if not isinstance(alarm_id, str) or not alarm_id or len(alarm_id) > 256 or SEP in alarm_id:
            raise ContractError("alarm.id must be a non-empty string of at most 256 characters")
        code = alarm.get("code")
        if not isinstance(code, str) or not code:
            raise ContractError("alarm.code must be a non-empty string")
        lots = alarm.get("lots") or []
        if not isinstance(lots, list) or not all(isinstance(lot, str) for lot in lots):
            raise ContractError("alarm.lots must be a list of lot keys or Digital Links")
        lot_keys = sorted({_lot_key(lot) for lot in lots})
        existing = ctx.get_state(_key("alarm", alarm_id))
        if existing is not None:
            return existing
        record = {
            "docType": "alarm",
            **{k: v for k, v in alarm.items() if k not in ("docType", "status", "lots")},
            "lots": lot_keys,
            "status": "open",
            "raisedBy": ctx.caller.id,
            "raisedAtMs": ctx.timestamp_ms,
            "txID": ctx.tx_id,
        }
        ctx.put_state(_key("alarm", alarm_id), record)
        for lot in lot_keys:
            ctx.put_state(_key("alot", lot, alarm_id), {"t": ctx.timestamp_ms})
        ctx.set_event("ColdChainAlarm", record)
        return record

    @submit
    def close_alarm(self, ctx: Context, alarm_id: str, note: str) -> dict:
        """Close an open alarm with a note (who and when are recorded)."""
        record = ctx.get_state(_key("alarm", alarm_id))
        if record is None:
            raise ContractError(f"there is no alarm {alarm_id!r}")
        if record["status"] != "open":
            raise ContractError(f"alarm {alarm_id!r} is already {record['status']}")
        record.update(status="closed", closedBy=ctx.caller.id, closedAtMs=ctx.timestamp_ms, note=note)
        ctx.put_state(_key("alarm", alarm_id), record)
        ctx.set_event("ColdChainAlarmClosed", {"id": alarm_id, "by": ctx.caller.id})
        return record

    @evaluate
    def alarms(self, ctx: Context, open_only: bool) -> list:
        """Alarms, newest first."""
        rows = [value for _, value in ctx.get_prefix(_prefix("alarm"))]
        if open_only:
            rows = [row for row in rows if row.get("status") == "open"]
        return sorted(rows, key=lambda r: r.get("raisedAtMs", 0), reverse=True)

    @evaluate(public=True)
    def inspection(self, ctx: Context, lot: str) -> dict | None:
        """The inspection agency's latest verdict on a lot, or None."""
        key = _lot_key(lot)
        register = ctx.get_state(_shard(key)) or {"lots": {}}
        return register["lots"].get(key)

    # -- reading events ------------------------------------------------------------------------------------

    @evaluate
    def get_event(self, ctx: Context, event_id: str) -> dict:
        """One event record (the event as captured, with its transaction id)."""
        record = ctx.get_state(event_key(event_id))
        if record is None:
            raise ContractError(f"there is no event {event_id!r}")
        return record

    @evaluate
    def query_events(self, ctx: Context, params: dict) -> dict:
        """EPCIS simple event query (the common parameters), in event time order, one page at a time."""
        unknown = sorted(set(params) - QUERY_PARAMS)
        if unknown:
            raise ContractError(f"unknown query parameter(s) {', '.join(unknown)}; supported: {sorted(QUERY_PARAMS)}")
        per_page = params.get("perPage", 100)
        if isinstance(per_page, str) and per_page.isdigit():
            per_page = int(per_page)
        if not isinstance(per_page, int) or isinstance(per_page, bool) or not 1 <= per_page <= MAX_PAGE:
            raise ContractError(f"perPage must be an integer from 1 to {MAX_PAGE}")
        after = None
        token = params.get("nextPageToken")
        if token is not None:
            time_text, sep, last_id = str(token).partition(SEP)
            if not sep or not time_text.isdigit():
                raise ContractError("nextPageToken is not one this server issued")
            after = (int(time_text), last_id)
        selector: dict[str, Any] = {"docType": DOC_EVENT}
        for name, (field, kind) in EQ_FIELDS.items():
            if name in params:
                values = [_normal(kind, v) for v in _values(params[name], name)]
                selector[field] = values[0] if len(values) == 1 else {"$in": values}
        for name, (field, operator) in TIME_FIELDS.items():
            if name in params:
                try:
                    bound = timestamps.to_ms(params[name])
                except timestamps.TimestampError as exc:
                    raise ContractError(f"{name}: {exc}") from None
                selector.setdefault(field, {})
                if not isinstance(selector[field], dict):
                    selector[field] = {"$eq": selector[field]}
                selector[field][operator] = bound
        matches = [name for name in MATCH_ROLES if name in params]
        if matches:
            records = self._by_objects(ctx, params, matches)
            records = [r for r in records if _selects(r, selector)]
            records.sort(key=lambda r: (r["eventTimeMs"], r["eventID"]))
            if after is not None:
                records = [r for r in records if (r["eventTimeMs"], r["eventID"]) > after]
            page = records[: per_page + 1]
        else:
            if after is not None:
                selector = {
                    "$and": [
                        selector,
                        {
                            "$or": [
                                {"eventTimeMs": {"$gt": after[0]}},
                                {"eventTimeMs": after[0], "eventID": {"$gt": after[1]}},
                            ]
                        },
                    ]
                }
            query = {"selector": selector, "sort": [{"eventTimeMs": "asc"}, {"eventID": "asc"}], "limit": per_page + 1}
            page = [value for _, value in ctx.query(query)]
        more = len(page) > per_page
        page = page[:per_page]
        next_token = f"{page[-1]['eventTimeMs']}{SEP}{page[-1]['eventID']}" if more and page else None
        return {"events": page, "nextPageToken": next_token}

    def _by_objects(self, ctx: Context, params: dict, matches: list[str]) -> list[dict]:
        event_ids: set[str] | None = None
        for name in matches:
            found: set[str] = set()
            for value in _values(params[name], name):
                canonical = gs1.normalise_id(value)
                for role in MATCH_ROLES[name]:
                    prefixes = [_prefix("ix", role, canonical)]
                    if canonical.startswith(gs1.CANONICAL_DOMAIN) and canonical.count("/") <= 4:
                        prefixes.append(_key("ix", role, canonical) + "/")  # a GTIN-level pattern
                    for prefix in prefixes:
                        found.update(key.rsplit(SEP, 1)[1] for key, _ in ctx.get_prefix(prefix))
            event_ids = found if event_ids is None else event_ids & found
        records = []
        for event_id in sorted(event_ids or ()):
            record = ctx.get_state(event_key(event_id))
            if record is not None:
                records.append(record)
        return records

    # -- lots, trace and journeys --------------------------------------------------------------------------

    def _edges(self, ctx: Context, lot: str, direction: str) -> list[dict]:
        side, other = ("xout", "in") if direction == "back" else ("xin", "out")
        edges = []
        for key, value in ctx.get_prefix(_prefix(side, lot)):
            tkey = key.rsplit(SEP, 1)[1]
            for other_key, other_value in ctx.get_prefix(_prefix("xform", tkey, other)):
                neighbour = other_key.rsplit(SEP, 1)[1]
                edges.append(
                    {
                        "from": neighbour if direction == "back" else lot,
                        "to": lot if direction == "back" else neighbour,
                        "transformation": tkey,
                        "eventID": other_value.get("eventID"),
                        "t": value.get("t"),
                        "next": neighbour,
                    }
                )
        return edges

    def _walk(self, ctx: Context, start: str, direction: str) -> tuple[list[str], list[dict]]:
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

    @evaluate
    def trace(self, ctx: Context, lot: str, direction: str) -> dict:
        """Lots upstream (``back``) or downstream (``forward``) of a lot through transformations."""
        if direction not in ("back", "forward"):
            raise ContractError("direction must be 'back' or 'forward'")
        start = _lot_key(lot)
        lots, edges = self._walk(ctx, start, direction)
        if not edges and not ctx.get_prefix(_prefix("lot", start), limit=1):
            raise ContractError(f"lot {start} is not on the ledger")
        linked = {edge["from"] for edge in edges} if direction == "forward" else {edge["to"] for edge in edges}
        ends = [x for x in lots if x not in linked]
        summaries = {x: self._lot_summary(ctx, x) for x in lots}
        return {
            "lot": start,
            "direction": direction,
            "lots": lots,
            "edges": edges,
            "ends": ends,
            "summaries": summaries,
        }

    def _lot_summary(self, ctx: Context, lot: str) -> dict:
        rows = ctx.get_prefix(_prefix("lot", lot))
        summary: dict[str, Any] = {"lot": lot, "events": len(rows)}
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
        grouped: dict[str, list[tuple[str, dict]]] = {}
        for key, value in ctx.get_prefix(_prefix("lot")):
            grouped.setdefault(key.split(SEP)[1], []).append((key, value))
        recalled = {key.split(SEP)[1] for key, _ in ctx.get_prefix(_prefix("recall"))}
        open_alarms: dict[str, int] = {}
        for _, alarm in ctx.get_prefix(_prefix("alarm")):
            if alarm.get("status") == "open":
                for lot in alarm.get("lots", []):
                    open_alarms[lot] = open_alarms.get(lot, 0) + 1
        verdicts: dict[str, dict] = {}
        for shard in range(SHARDS):
            register = ctx.get_state(_key("inspection", f"{shard:02d}")) or {"lots": {}}
            verdicts.update(register["lots"])
        out = []
        for lot, rows in sorted(grouped.items()):
            last_key, last = rows[-1]
            last_event = ctx.get_state(event_key(last_key.split(SEP)[3])) or {}
            out.append(
                {
                    "lot": lot,
                    "events": len(rows),
                    "first_ms": int(rows[0][0].split(SEP)[2]),
                    "last_ms": int(last_key.split(SEP)[2]),
                    "last_cte": last.get("cte"),
                    "last_step": last.get("step"),
                    "last_location": last_event.get("bizLocation") or last_event.get("readPoint"),
                    "in_transit": last.get("cte") == "shipping" or last.get("step") in ("departing", "transporting"),
                    "recalled": lot in recalled,
                    "open_alarms": open_alarms.get(lot, 0),
                    "inspection": verdicts.get(lot),
                }
            )
        return out

    @evaluate
    def lot_events(self, ctx: Context, lot: str, sensor_reports: bool) -> list:
        """Event records of one lot in time order (business events; sensor reports on request)."""
        key = _lot_key(lot)
        rows = ctx.get_prefix(_prefix("lsr" if sensor_reports else "lot", key))
        records = []
        for row_key, _ in rows:
            record = ctx.get_state(event_key(row_key.split(SEP)[3]))
            if record is not None:
                records.append(record)
        return records

    @evaluate(public=True)
    def master_data(self, ctx: Context) -> dict:
        """Location and product master data: canonical id → attributes (names, coordinates, descriptions)."""
        return {
            "locations": {value["id"]: value["attributes"] for _, value in ctx.get_prefix(_prefix("loc"))},
            "products": {value["id"]: value["attributes"] for _, value in ctx.get_prefix(_prefix("prod"))},
        }

    @evaluate
    def lot_origin(self, ctx: Context, lot: str) -> dict:
        """Where a lot comes from: its creating event and the landing events of the lots it was made from."""
        start = _lot_key(lot)
        upstream, _ = self._walk(ctx, start, "back")
        origin: dict[str, Any] = {"lot": start, "created": None, "landings": []}
        for item in upstream:
            rows = ctx.get_prefix(_prefix("lot", item))
            for key, value in rows:
                record = ctx.get_state(event_key(key.split(SEP)[3]))
                if record is None:
                    continue
                if item == start and origin["created"] is None:
                    origin["created"] = _public_event(record) | {"location": record.get("bizLocation")}
                if value.get("cte") == "first_land_based_receiving":
                    origin["landings"].append(
                        _public_event(record) | {"kdes": kdes(record["event"], event_facts(record["event"]))}
                    )
        return origin

    @evaluate
    def device_associations(self, ctx: Context, device: str) -> dict:
        """Association intervals of sensor devices (all, or one): device → [{from, to, lots, parent}]."""
        prefix = _prefix("dev", gs1.normalise_id(device)) if device else _prefix("dev")
        out: dict[str, list[dict]] = {}
        for key, value in ctx.get_prefix(prefix):
            name = key.split(SEP)[1]
            intervals = out.setdefault(name, [])
            if value.get("action") == "DELETE":
                for interval in intervals:
                    if interval["to"] is None:
                        interval["to"] = value["t"]
            else:
                intervals.append(
                    {
                        "from": value["t"],
                        "to": None,
                        "lots": value.get("lots", []),
                        "parent": value.get("parent"),
                        "readPoint": value.get("readPoint"),
                        "eventID": value.get("eventID"),
                    }
                )
        return out

    def _device_intervals(self, ctx: Context, lot: str, until: int | None) -> list[dict]:
        open_at: dict[str, int] = {}
        intervals = []
        for _, value in ctx.get_prefix(_prefix("lotdev", lot)):
            device, at = value["device"], value["t"]
            if until is not None and at >= until:
                break
            if value.get("action") == "DELETE":
                if device in open_at:
                    intervals.append({"device": device, "from": open_at.pop(device), "to": at, "lot": lot})
            elif device not in open_at:
                open_at[device] = at
        for device, start in open_at.items():
            intervals.append({"device": device, "from": start, "to": until, "lot": lot})
        return sorted(intervals, key=lambda i: i["from"])

    @evaluate(public=True)
    def lot_journey(self, ctx: Context, lot: str) -> dict:
        """What a consumer may see of a lot: its way from landing (through upstream lots), sensors, verdicts."""
        start = _lot_key(lot)
        if not ctx.get_prefix(_prefix("lot", start), limit=1):
            raise ContractError(f"lot {start} is not on the ledger")
        upstream, edges = self._walk(ctx, start, "back")
        cut: dict[str, int] = {}  # an upstream lot's own history ends when it was transformed
        for edge in edges:
            t = edge.get("t") or 0
            cut[edge["from"]] = min(cut.get(edge["from"], t), t)
        events, intervals, alarms, verdicts, recalls = [], [], [], {}, []
        for item in upstream:
            for key, _ in ctx.get_prefix(_prefix("lot", item)):
                record = ctx.get_state(event_key(key.split(SEP)[3]))
                if record is not None and record["eventID"] not in {e["eventID"] for e in events}:
                    events.append(_public_event(record))
            until = None if item == start else cut.get(item)
            intervals.extend(self._device_intervals(ctx, item, until))
            for key, _ in ctx.get_prefix(_prefix("alot", item)):
                alarm = ctx.get_state(_key("alarm", key.split(SEP)[2]))
                if alarm is not None and alarm["id"] not in {a["id"] for a in alarms}:
                    alarms.append({k: alarm.get(k) for k in _PUBLIC_ALARM if k in alarm})
            register = ctx.get_state(_shard(item)) or {"lots": {}}
            if item in register["lots"]:
                verdicts[item] = {k: v for k, v in register["lots"][item].items() if k != "by"}
            if ctx.get_prefix(_prefix("recall", item), limit=1):
                recalls.append(item)
        events.sort(key=lambda e: (e["eventTimeMs"], e["eventID"]))
        anchors = []
        for item in upstream:
            for key, _ in ctx.get_prefix(_prefix("lsr", item)):
                record = ctx.get_state(event_key(key.split(SEP)[3]))
                if record is not None:
                    anchors.append(_anchor_summary(record))
        anchors.sort(key=lambda a: (a["start_ms"] or 0, a["device"] or ""))
        locations = {}
        for event in events:
            for ident in (event.get("location"),):
                if ident and ident not in locations:
                    master = ctx.get_state(_key("loc", ident))
                    if master is not None:
                        locations[ident] = master["attributes"]
        products = {}
        for item in upstream:
            gtin = item.split("/", 1)[0]
            master = ctx.get_state(_key("prod", f"{gs1.CANONICAL_DOMAIN}/01/{gtin}"))
            if master is not None:
                products[gtin] = master["attributes"]
        return {
            "lot": start,
            "upstream": upstream,
            "edges": edges,
            "events": events,
            "device_intervals": intervals,
            "sensor_batches": anchors,
            "alarms": alarms,
            "inspections": verdicts,
            "recalled": recalls,
            "locations": locations,
            "products": products,
        }


_PUBLIC_ALARM = ("id", "code", "severity", "message", "message_ko", "lots", "status", "raisedAtMs", "txID", "device")


def _public_event(record: dict) -> dict:
    """An event as consumers see it: when, where, what happened, key data — no commercial references."""
    event = record["event"]
    facts = event_facts(event)
    data = kdes(event, facts)
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
        "kdes": {k: data[k] for k in PUBLIC_KDES if k in data},
    }


def _anchor_summary(record: dict) -> dict:
    event = record["event"]
    element = (event.get("sensorElementList") or [{}])[0]
    metadata = element.get("sensorMetadata") or {}
    report = next(
        (r for r in element.get("sensorReport") or [] if r.get("type") in ("Temperature", "gs1:Temperature")), {}
    )
    batch = extension(event, "batch", record.get("prefixes")) or {}

    def ms(text: Any) -> int | None:
        try:
            return timestamps.to_ms(text) if isinstance(text, str) else None
        except timestamps.TimestampError:
            return None

    return {
        "eventID": record["eventID"],
        "txID": record["txID"],
        "device": gs1.normalise_id(metadata["deviceID"]) if isinstance(metadata.get("deviceID"), str) else None,
        "start_ms": ms(metadata.get("startTime")),
        "end_ms": ms(metadata.get("endTime")),
        "min": report.get("minValue"),
        "max": report.get("maxValue"),
        "mean": report.get("meanValue"),
        "alarm": report.get("exception") == "ALARM_CONDITION",
        "count": batch.get("count") if isinstance(batch, dict) else None,
        "root": batch.get("merkleRoot") if isinstance(batch, dict) else None,
    }


def _selects(record: dict, selector: dict) -> bool:
    """Whether an event record matches an (equality / $in / range) selector, as the state query would."""
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
