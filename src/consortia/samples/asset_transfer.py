"""Asset transfer: the classic first contract of a permissioned ledger.

Assets are JSON documents keyed ``asset:<id>`` with an owner, a colour, a size and an appraised value. Anyone on
the channel may create an asset; only a member of the owning organisation may transfer it. ``touch`` reads an
asset and writes it back with a counter incremented — one read and one write, which the benchmark uses. A
private collection keeps appraisal notes visible only to its members.
"""

from __future__ import annotations

from typing import Any

from consortia.contracts import Context, Contract, ContractError, evaluate, submit


def _key(asset_id: str) -> str:
    if not asset_id or ":" in asset_id:
        raise ContractError(f"asset id {asset_id!r} must be non-empty and must not contain ':'")
    return f"asset:{asset_id}"


class AssetTransfer(Contract):
    """Create, read, transfer and delete assets."""

    name = "asset-transfer"
    version = "1.0"

    @submit
    def create(self, ctx: Context, asset_id: str, color: str, size: int, value: int) -> dict:
        """Create a new asset owned by the caller's organisation."""
        key = _key(asset_id)
        if ctx.get_state(key) is not None:
            raise ContractError(f"asset {asset_id} already exists", code="CONFLICT")
        if size <= 0 or value < 0:
            raise ContractError("size must be positive and value non-negative")
        asset = {
            "id": asset_id,
            "color": color,
            "size": size,
            "value": value,
            "owner": ctx.caller.org,
            "updated": ctx.timestamp.isoformat(),
            "touches": 0,
            "docType": "asset",
        }
        ctx.put_state(key, asset)
        ctx.set_event("AssetCreated", {"id": asset_id, "owner": ctx.caller.org})
        return asset

    @evaluate
    def read(self, ctx: Context, asset_id: str) -> dict:
        """Read an asset."""
        asset = ctx.get_state(_key(asset_id))
        if asset is None:
            raise ContractError(f"asset {asset_id} does not exist", code="NOT_FOUND")
        return asset

    @submit
    def transfer(self, ctx: Context, asset_id: str, new_owner: str) -> dict:
        """Transfer an asset to another organisation (only its owner's members may)."""
        key = _key(asset_id)
        asset = ctx.get_state(key)
        if asset is None:
            raise ContractError(f"asset {asset_id} does not exist", code="NOT_FOUND")
        if asset["owner"] != ctx.caller.org:
            raise ContractError(f"asset {asset_id} belongs to {asset['owner']}, not {ctx.caller.org}", code="FORBIDDEN")
        asset["owner"] = new_owner
        asset["updated"] = ctx.timestamp.isoformat()
        ctx.put_state(key, asset)
        ctx.set_event("AssetTransferred", {"id": asset_id, "owner": new_owner})
        return asset

    @submit
    def touch(self, ctx: Context, asset_id: str) -> int:
        """Read an asset (creating it if absent) and write it back with its counter incremented."""
        key = _key(asset_id)
        asset = ctx.get_state(key) or {
            "id": asset_id,
            "owner": ctx.caller.org,
            "touches": 0,
            "docType": "asset",
            "color": "grey",
            "size": 1,
            "value": 0,
        }
        asset["touches"] += 1
        ctx.put_state(key, asset)
        return asset["touches"]

    @submit
    def delete(self, ctx: Context, asset_id: str) -> None:
        """Delete an asset (its owner's members only)."""
        self._owned(ctx, asset_id)
        ctx.delete_state(_key(asset_id))

    @evaluate
    def list(self, ctx: Context, start: str = "", end: str = "") -> list:
        """Assets with ids in [start, end), in id order."""
        lo = f"asset:{start}"
        hi = f"asset:{end}" if end else "asset;"
        return [value for _, value in ctx.get_range(lo, hi)]

    @evaluate
    def by_owner(self, ctx: Context, owner: str) -> list:
        """Assets owned by an organisation (a rich query)."""
        return [
            value for _, value in ctx.query({"selector": {"docType": "asset", "owner": owner}, "sort": [{"id": "asc"}]})
        ]

    @evaluate
    def history(self, ctx: Context, asset_id: str) -> list:
        """Every change of an asset, newest first."""
        return ctx.get_history(_key(asset_id))

    @submit
    def count_range(self, ctx: Context, start: str, end: str) -> int:
        """Count assets in an id range and record the count (a range read that validation re-checks)."""
        rows = ctx.get_range(f"asset:{start}", f"asset:{end}")
        ctx.put_state("count:last", {"start": start, "end": end, "count": len(rows)})
        return len(rows)

    def _owned(self, ctx: Context, asset_id: str) -> dict:
        asset = ctx.get_state(_key(asset_id))
        if asset is None:
            raise ContractError(f"asset {asset_id} does not exist", code="NOT_FOUND")
        if asset["owner"] != ctx.caller.org:
            raise ContractError(f"asset {asset_id} belongs to {asset['owner']}, not {ctx.caller.org}", code="FORBIDDEN")
        return asset

    def _own_appraisal(self, ctx: Context, asset_id: str) -> str | None:
        # Who appraised is public (the appraisal is not), so any endorsing peer can check it, member or not.
        record = ctx.get_state(f"appraiser:{asset_id}")
        if record is not None and record["org"] != ctx.caller.org:
            raise ContractError(
                f"the appraisal of {asset_id} was made by {record['org']}; {ctx.caller.org} may not change it",
                code="FORBIDDEN",
            )
        return None if record is None else str(record["org"])

    @submit
    def appraise(self, ctx: Context, asset_id: str) -> dict:
        """Store a confidential appraisal (from transient 'appraisal') in the private collection."""
        raw = ctx.transient.get("appraisal")
        if raw is None:
            raise ContractError("pass the appraisal as transient data 'appraisal'")
        if self._own_appraisal(ctx, asset_id) is None:
            ctx.put_state(f"appraiser:{asset_id}", {"org": ctx.caller.org})
        note: Any = {"asset": asset_id, "appraisal": raw.decode(), "by": ctx.caller.org}
        ctx.put_private("appraisals", _key(asset_id), note)
        # The result is public: it names where the appraisal went, never its text; the ledger keeps its salted hash
        # in the transaction's private write set.
        return {"asset": asset_id, "collection": "appraisals", "stored": "salted hash on the ledger"}

    @evaluate
    def read_appraisal(self, ctx: Context, asset_id: str) -> Any:
        """Read a private appraisal (collection members only)."""
        return ctx.get_private("appraisals", _key(asset_id))

    @evaluate
    def appraisal_hash(self, ctx: Context, asset_id: str) -> str | None:
        """The salted hash of an appraisal that the ledger holds."""
        return ctx.get_private_hash("appraisals", _key(asset_id))

    @submit
    def purge_appraisal(self, ctx: Context, asset_id: str) -> None:
        """Erase an appraisal's plaintext everywhere (the appraising organisation only; its hash stays)."""
        if self._own_appraisal(ctx, asset_id) is None:
            raise ContractError(f"there is no appraisal of {asset_id} to purge", code="NOT_FOUND")
        ctx.purge_private("appraisals", _key(asset_id))

    @submit
    def protect(self, ctx: Context, asset_id: str, policy: str) -> None:
        """Set a key-level endorsement policy on an asset (its owner's members only)."""
        self._owned(ctx, asset_id)
        ctx.set_key_policy(_key(asset_id), policy)
