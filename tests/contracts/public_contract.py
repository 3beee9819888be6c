"""A test contract with a public query (anyone may evaluate it), a members-only query and a submit function."""

from __future__ import annotations

from typing import Any

from consortia.contracts import Context, Contract, ContractError, evaluate, submit


class Noticeboard(Contract):
    """Notices keyed ``notice:<id>``: members post them, anyone may read the public summary."""

    name = "noticeboard"
    version = "1.0"

    @submit
    def post(self, ctx: Context, notice_id: str, text: str) -> dict:
        """Post a notice (members only, like every submission)."""
        if not notice_id or ":" in notice_id:
            raise ContractError(f"notice id {notice_id!r} must be non-empty and must not contain ':'")
        notice = {"id": notice_id, "text": text, "by": ctx.caller.org}
        ctx.put_state(f"notice:{notice_id}", notice)
        ctx.set_event("NoticePosted", {"id": notice_id})
        return notice

    @evaluate(public=True)
    def headline(self, ctx: Context, notice_id: str) -> Any:
        """The text of a notice, or null: public."""
        notice = ctx.get_state(f"notice:{notice_id}")
        return None if notice is None else notice["text"]

    @evaluate
    def read(self, ctx: Context, notice_id: str) -> dict:
        """A notice in full, with its author: members only."""
        notice = ctx.get_state(f"notice:{notice_id}")
        if notice is None:
            raise ContractError(f"notice {notice_id} does not exist", code="NOT_FOUND")
        return notice
