"""``consortia demo``'s trade-finance part, played through the plug-in on a network of its own.

Until ``pyproject.toml`` names the plug-in, the test imports :data:`~consortia.apps.tradefinance.plugin.application`
itself and builds a network from its organisations and channel, as the platform's demo does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from rich.console import Console

from consortia.apps.tradefinance import consortium
from consortia.apps.tradefinance.plugin import application
from consortia.apps.tradefinance.service.tradefinance import TradeFinanceService
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import NetworkSpec


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedNetwork, list[str]]]:
    folder = tmp_path_factory.mktemp("tf-demo") / "net"
    network = EmbeddedNetwork.create(folder, NetworkSpec(orgs=application.orgs, channels=application.channels))
    try:
        assert application.deploy is not None and application.seed is not None
        application.deploy(network)
        lines = application.seed(network, Console(quiet=True))
        yield network, lines
    finally:
        network.close()


def test_the_plugin_names_the_consortium() -> None:
    assert application.name == "tradefinance" and application.cli is not None and application.install is not None
    assert {org.name for org in application.orgs} == set(consortium.ORGS)
    assert [channel.name for channel in application.channels] == [consortium.CHANNEL]


def test_the_summary_tells_the_story(played: tuple[EmbeddedNetwork, list[str]]) -> None:
    _, lines = played
    text = "\n".join(lines)
    assert re.search(r"200 documents at 5 banks — REDU [1-9]", text), text
    race = next(line for line in lines if "race" in line)
    assert "FNCD" in race and "DFIN" in race and race.count("Bank") == 2
    assert "near-duplicate for review" in text and "password consortia-demo" in text


def test_the_regulator_sees_the_demo(played: tuple[EmbeddedNetwork, list[str]]) -> None:
    network, _ = played
    examiner = TradeFinanceService.as_user(network, consortium.AMCM, consortium.EXAMINER, consortium.DEMO_PASSWORD)
    view = examiner.oversight()
    assert len(view.records) >= 16
    assert {f.corridor for f in view.flows} >= {"CN-HK"} and any(f.kind == "repayment" for f in view.flows)
    assert {a.kind for a in view.attempts} >= {"duplicate", "financed_duplicate", "near_duplicate"}
    assert (
        view.flags
        and any(r.code == "KYC" for r in view.refusals)
        and any(r.function == "access" for r in view.refusals)
    )
    assert {r.state for r in view.records} >= {"settled", "defaulted", "disbursed"}
    traders = examiner.traders()
    assert len(traders) == 10
    assert any(t.attestations and not t.current_kyc for t in traders), "the expired attestation shows"
    assert sum(t.current_kyc for t in traders) >= 8
