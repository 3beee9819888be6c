"""Rich queries: a small Mango-style selector language over JSON world-state values, compiled to SQLite.

Contracts keep JSON documents; they often need "all shipments of lot X" or "accounts with a balance above N"
rather than a key. A selector is a JSON object, as in CouchDB's Mango queries::

    {"docType": "asset", "owner": {"$in": ["alice", "bob"]}, "size": {"$gte": 5}}

Field names address nested members with dots (``"origin.port"``). Supported operators: ``$eq $ne $gt $gte $lt
$lte $in $nin $exists`` on fields and ``$and $or $nor`` over sub-selectors. Each field becomes a SQLite
``json_extract`` expression with bound parameters, never text spliced into SQL, so a selector cannot inject SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*|\.[0-9]+)*$")
_COMPARISONS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
MAX_LIMIT = 10_000


class QueryError(ValueError):
    """A selector that cannot be compiled; the message says which part and why."""


@dataclass(frozen=True)
class CompiledQuery:
    """A WHERE clause with its parameters, an ORDER BY clause, and the row limit."""

    where: str
    params: tuple[Any, ...]
    order_by: str
    limit: int


def _json_path(field: str) -> str:
    if not isinstance(field, str) or not _FIELD.match(field):
        raise QueryError(f"invalid field name {field!r}: use letters, digits, '_' and '.' for nesting")
    return "$" + "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in field.split("."))


def _field_expr(field: str) -> str:
    return f"json_extract(value, '{_json_path(field)}')"


def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise QueryError(f"{where}: integer {value} is outside the 64-bit range the state database compares")
    if value is None or isinstance(value, int | float | str):
        return value
    raise QueryError(f"{where}: only strings, numbers, booleans and null can be compared, got {type(value).__name__}")


def _compile_field(field: str, condition: Any, params: list[Any]) -> str:
    expr = _field_expr(field)
    if not isinstance(condition, dict):
        if condition is None:
            return f"json_type(value, '{_json_path(field)}') = 'null'"
        params.append(_scalar(condition, field))
        return f"{expr} = ?"
    if not condition:
        raise QueryError(f"field {field!r}: empty condition object")
    parts = []
    for operator, operand in condition.items():
        if operator in _COMPARISONS:
            params.append(_scalar(operand, f"{field}.{operator}"))
            parts.append(f"{expr} {_COMPARISONS[operator]} ?")
        elif operator in ("$in", "$nin"):
            if not isinstance(operand, list) or not operand:
                raise QueryError(f"field {field!r}: {operator} needs a non-empty list")
            marks = ",".join("?" for _ in operand)
            params.extend(_scalar(item, f"{field}.{operator}") for item in operand)
            negation = "NOT " if operator == "$nin" else ""
            parts.append(f"{expr} {negation}IN ({marks})")
        elif operator == "$exists":
            if not isinstance(operand, bool):
                raise QueryError(f"field {field!r}: $exists needs true or false")
            parts.append(f"json_type(value, '{_json_path(field)}') IS {'NOT ' if operand else ''}NULL")
        else:
            raise QueryError(
                f"field {field!r}: unknown operator {operator!r} "
                f"(use one of {', '.join([*_COMPARISONS, '$in', '$nin', '$exists'])})"
            )
    return "(" + " AND ".join(parts) + ")"


def _compile_selector(selector: Any, params: list[Any]) -> str:
    if not isinstance(selector, dict):
        raise QueryError(f"a selector must be a JSON object, got {type(selector).__name__}")
    if not selector:
        return "1"
    parts = []
    for name, condition in selector.items():
        if not isinstance(name, str):
            raise QueryError(f"selector keys must be strings, got {name!r}")
        if name in ("$and", "$or", "$nor"):
            if not isinstance(condition, list) or not condition:
                raise QueryError(f"{name} needs a non-empty list of selectors")
            inner = [_compile_selector(sub, params) for sub in condition]
            joined = (" AND " if name == "$and" else " OR ").join(inner)
            parts.append(f"NOT ({joined})" if name == "$nor" else f"({joined})")
        elif name.startswith("$"):
            raise QueryError(f"unknown top-level operator {name!r} (use $and, $or, $nor or a field name)")
        else:
            parts.append(_compile_field(name, condition, params))
    return " AND ".join(parts)


def compile_query(query: Any) -> CompiledQuery:
    """Compile ``{"selector": {...}, "sort": [...], "limit": n}`` (or a bare selector) to SQL pieces."""
    if not isinstance(query, dict):
        raise QueryError(f"a query must be a JSON object, got {type(query).__name__}")
    if "selector" in query:
        unknown = set(query) - {"selector", "sort", "limit"}
        if unknown:
            raise QueryError(f"unknown query member(s) {sorted(unknown)}: use selector, sort, limit")
        selector, sort, limit = query["selector"], query.get("sort", []), query.get("limit", MAX_LIMIT)
    else:
        selector, sort, limit = query, [], MAX_LIMIT
    params: list[Any] = []
    where = _compile_selector(selector, params)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    if not isinstance(sort, list):
        raise QueryError('sort must be a list such as [{"size": "desc"}]')
    order = []
    for item in sort:
        if isinstance(item, str):
            order.append(f"{_field_expr(item)} ASC")
        elif isinstance(item, dict) and len(item) == 1:
            ((field, direction),) = item.items()
            if direction not in ("asc", "desc"):
                raise QueryError(f"sort direction for {field!r} must be 'asc' or 'desc'")
            order.append(f"{_field_expr(field)} {direction.upper()}")
        else:
            raise QueryError('each sort item must be a field name or {"field": "asc"|"desc"}')
    order.append("key ASC")
    return CompiledQuery(where=where, params=tuple(params), order_by=", ".join(order), limit=limit)
