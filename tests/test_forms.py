"""Forms people post from application pages: the platform's one check against cross-site request forgery.

A logged-in person's browser sends the session cookie with any request, including one another site makes it
send; so a form that changes the ledger must also carry the session's CSRF token and come from this site's
origin. ``consortia.gateway.server.auth.checked_form`` is that check for every application (health, trade
finance, AML use it); here it runs over a real session store, a real form post and each way to get it wrong.
"""

from __future__ import annotations

from typing import cast

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from consortia.gateway.server.auth import SESSION_COOKIE, FormRefused, Session, SessionStore, checked_form
from consortia.identity import SigningIdentity
from consortia.identity.wallet import WalletUser


@pytest.fixture
def site() -> tuple[TestClient, str]:
    app = FastAPI()
    app.state.sessions = SessionStore(ttl_seconds=600)

    @app.post("/form")
    async def post(request: Request) -> PlainTextResponse:
        try:
            form = await checked_form(request)
        except FormRefused as exc:
            return PlainTextResponse(str(exc), status_code=403)
        return PlainTextResponse(f"accepted {form.get('amount')}")

    # A session as the login page makes one; the form check reads only its CSRF token.
    token = app.state.sessions.create(cast(WalletUser, None), cast(SigningIdentity, None))
    session = cast(Session, app.state.sessions.get(token))
    client = TestClient(app, base_url="http://testserver")
    client.cookies.set(SESSION_COOKIE, token)
    return client, session.csrf


def test_a_form_from_this_site_with_the_sessions_token_is_accepted(site: tuple[TestClient, str]) -> None:
    client, csrf = site
    answer = client.post("/form", data={"csrf": csrf, "amount": "10"}, headers={"origin": "http://testserver"})
    assert answer.status_code == 200 and answer.text == "accepted 10"
    # Browsers leave Origin out of some same-site posts; the token still decides.
    assert client.post("/form", data={"csrf": csrf, "amount": "11"}).text == "accepted 11"


@pytest.mark.parametrize(
    ("data", "headers", "said"),
    [
        ({"amount": "10"}, {}, "CSRF token is not this session's"),
        ({"csrf": "forged", "amount": "10"}, {}, "CSRF token is not this session's"),
        ({"csrf": "{csrf}", "amount": "10"}, {"origin": "https://attacker.example"}, "from another site"),
        ({"csrf": "{csrf}", "amount": "10"}, {"origin": "null"}, "from another site"),
    ],
)
def test_a_forged_form_is_refused_saying_why(
    site: tuple[TestClient, str], data: dict[str, str], headers: dict[str, str], said: str
) -> None:
    client, csrf = site
    sent = {key: value.replace("{csrf}", csrf) for key, value in data.items()}
    answer = client.post("/form", data=sent, headers=headers)
    assert answer.status_code == 403 and said in answer.text


def test_a_form_without_a_session_is_refused(site: tuple[TestClient, str]) -> None:
    client, csrf = site
    client.cookies.clear()
    answer = client.post("/form", data={"csrf": csrf, "amount": "10"})
    assert answer.status_code == 403 and "without a session" in answer.text
