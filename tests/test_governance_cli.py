"""``consortia channel`` and ``consortia org`` on an embedded data folder, as an operator and admins use them.

A new organisation is created, an update adding it is written, signed by one admin and refused
(``CONFIG_POLICY_FAILURE``, exit 1, nothing changes), signed by a second and accepted; bad input gets a clear
error; a certificate is revoked through an update; ``consortia verify`` passes afterwards.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from cli_run import QUIET_LOG
from cli_run import consortia as run_consortia
from consortia.network.bootstrap import user_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import ChannelSpec, NetworkSpec, OrgSpec

CHANNEL = "ch1"


consortia = partial(run_consortia, timeout=120, env=QUIET_LOG)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    spec = NetworkSpec(
        orgs=(OrgSpec("Org1"), OrgSpec("Org2"), OrgSpec("Org3")),
        channels=(ChannelSpec(CHANNEL, ("Org1", "Org2", "Org3")),),
    )
    data = tmp_path / "net"
    with EmbeddedNetwork.create(data, spec, sync=False) as network:
        network.deploy(CHANNEL, "consortia.samples.asset_transfer:AssetTransfer", policy="OR('Org1.peer','Org2.peer')")
        network.gateway("Org1").network(CHANNEL).contract("asset-transfer").submit("create", "a1", "red", 1, 1)
    return data


def _config(data: Path) -> dict:
    shown = consortia("channel", "config", CHANNEL, "--data", str(data), "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def test_an_organisation_is_added_by_a_majority_through_the_cli(folder: Path, tmp_path: Path) -> None:
    data = str(folder)
    created = consortia("org", "create", "Org4", "--data", data, "--json")
    assert created.returncode == 0, created.stderr
    ca = json.loads(created.stdout)["ca_certificate"]
    before = _config(folder)
    assert before["version"] == 0 and before["set_by_block"] == 0
    assert sorted(before["signed_by"]) == ["Org1/admin", "Org2/admin", "Org3/admin"]

    update = tmp_path / "add-org4.update"
    made = consortia(
        "channel", "update", CHANNEL, "--add-org", "Org4", "--ca-cert", ca, "--out", str(update), "--data", data
    )
    assert made.returncode == 0, made.stderr
    assert "adds organisation Org4" in made.stdout

    signed = consortia("channel", "sign", str(update), "--org", "Org1", "--data", data)
    assert signed.returncode == 0, signed.stderr
    assert "adds organisation Org4" in signed.stdout  # the admin sees what they sign

    refused = consortia("channel", "submit", str(update), "--data", data, "--json")
    assert refused.returncode == 1
    answer = json.loads(refused.stdout)
    assert answer["reason"] == "CONFIG_POLICY_FAILURE"
    assert "Org1" in answer["error"]
    assert _config(folder) == before  # nothing changed

    assert consortia("channel", "sign", str(update), "--org", "Org2", "--data", data).returncode == 0
    accepted = consortia("channel", "submit", str(update), "--data", data, "--json")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    block = json.loads(accepted.stdout)["block"]

    after = _config(folder)
    assert after["version"] == 1 and after["set_by_block"] == block
    assert [o["msp_id"] for o in after["organisations"]] == ["Org1", "Org2", "Org3", "Org4"]
    assert sorted(after["signed_by"]) == ["Org1/admin", "Org2/admin"]

    # The same update again is stale now: a clear refusal naming the version.
    again = consortia("channel", "submit", str(update), "--data", data)
    assert again.returncode == 1
    assert "CONFIG_REJECTED" in again.stderr and "version" in again.stderr

    verified = consortia("verify", "--data", data)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_bad_input_gets_a_clear_error(folder: Path, tmp_path: Path) -> None:
    data = str(folder)
    garbage = tmp_path / "garbage.update"
    garbage.write_bytes(b"not an update")
    for args, words in [
        (["channel", "submit", str(garbage), "--data", data], "is not a configuration update"),
        (["channel", "sign", str(garbage), "--org", "Org1", "--data", data], "is not a configuration update"),
        (["channel", "config", "nochannel", "--data", data], "has no channel 'nochannel'"),
        (["channel", "update", CHANNEL, "--remove-org", "Org9", "--out", str(tmp_path / "u"), "--data", data], "Org9"),
        (
            ["channel", "update", CHANNEL, "--add-org", "Org4", "--out", str(tmp_path / "u"), "--data", data],
            "--ca-cert",
        ),
        (
            ["channel", "update", CHANNEL, "--set-batch", "speed=9", "--out", str(tmp_path / "u"), "--data", data],
            "NAME=VALUE",
        ),
        (["channel", "update", CHANNEL, "--out", str(tmp_path / "u"), "--data", data], "changes nothing"),
        (["org", "create", "Org1", "--data", data], "already exists"),
    ]:
        result = consortia(*args)
        assert result.returncode != 0, args
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    update = tmp_path / "client.update"
    made = consortia(
        "channel", "update", CHANNEL, "--set-batch", "max_transactions=7", "--out", str(update), "--data", data
    )
    assert made.returncode == 0
    for args, words in [
        (["--orderer", "https://127.0.0.1:9"], "--orderer needs --org"),
        (["--orderer", "https://127.0.0.1:9", "--org", "Org1"], "need --tls DIR"),
        (["--orderer", "https://127.0.0.1:9", "--org", "Org9"], "no admin identity of Org9"),
    ]:
        result = consortia("channel", "submit", str(update), *args, "--data", data)
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)
    not_admin = consortia("channel", "sign", str(update), "--org", "Org1", "--user", "client", "--data", data)
    assert not_admin.returncode == 1 and "not an admin" in not_admin.stderr
    assert _config(folder)["version"] == 0


def test_a_certificate_is_revoked_by_an_update(folder: Path, tmp_path: Path) -> None:
    data = str(folder)
    client_cert = user_dir(folder, "Org1", "client") / "cert.pem"
    update = tmp_path / "revoke.update"
    made = consortia(
        "channel", "update", CHANNEL, "--revoke-cert", str(client_cert), "--out", str(update), "--data", data
    )
    assert made.returncode == 0, made.stderr
    assert "changes the revocation lists of Org1" in made.stdout
    for org in ("Org1", "Org3"):
        assert consortia("channel", "sign", str(update), "--org", org, "--data", data).returncode == 0
    assert consortia("channel", "submit", str(update), "--data", data).returncode == 0
    assert _config(folder)["organisations"][0]["revocation_lists"] == 1

    # The revoked client's next transaction is refused; the earlier one still verifies.
    refused = consortia(
        "submit", CHANNEL, "asset-transfer", "create", "a2", "blue", "1", "1", "--data", data, "--org", "Org1"
    )
    assert refused.returncode != 0
    assert "REVOKED_CERTIFICATE" in refused.stdout + refused.stderr
    verified = consortia("verify", "--data", data)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_revocation_survives_a_ca_rotation(folder: Path, tmp_path: Path) -> None:
    """Revoke under the old CA, rotate the CA, revoke again, remove the old CA: no revocation is lost."""
    data = str(folder)

    def update(name: str, *change: str, signers: tuple[str, ...] = ("Org2", "Org3")) -> None:
        path = tmp_path / f"{name}.update"
        made = consortia("channel", "update", CHANNEL, *change, "--out", str(path), "--data", data)
        assert made.returncode == 0, made.stderr
        for org in signers:
            assert consortia("channel", "sign", str(path), "--org", org, "--data", data).returncode == 0
        submitted = consortia("channel", "submit", str(path), "--data", data)
        assert submitted.returncode == 0, submitted.stderr

    client = user_dir(folder, "Org1", "client") / "cert.pem"
    public = user_dir(folder, "Org1", "public") / "cert.pem"
    update("revoke-old", "--revoke-cert", str(client))
    rotated = consortia("org", "rotate-ca", "--org", "Org1", "--data", data)
    assert rotated.returncode == 0, rotated.stderr
    new_ca = folder / "crypto" / "Org1" / "ca" / "ca.pem"
    old_ca = folder / "crypto" / "Org1" / "ca-previous" / "ca.pem"
    update("add-ca", "--add-ca-cert", f"Org1={new_ca}")
    update("revoke-new", "--revoke-cert", str(public))  # the new CA carries the old CA's list on
    update("remove-ca", "--remove-ca-cert", f"Org1={old_ca}")

    shown = _config(folder)
    org1 = next(o for o in shown["organisations"] if o["msp_id"] == "Org1")
    assert len(org1["ca_certificates"]) == 1 and org1["ca_certificates"][0].strip() == new_ca.read_text().strip()
    assert org1["revocation_lists"] == 1
    # Both revocations are still in force in the one list the new CA signed.
    from consortia.identity import Membership, parse_certificate
    from consortia.ledger.config import ChannelConfig

    with EmbeddedNetwork(folder) as network:
        config: ChannelConfig = network.channel_config(CHANNEL)
    org = config.organisation("Org1")
    assert org is not None
    members = Membership({"Org1": org.ca_certificates}, revocation_lists={"Org1": org.revocation_lists})
    for certificate in (client, public):
        assert members.is_revoked("Org1", parse_certificate(certificate.read_bytes()).serial)
    verified = consortia("verify", "--data", data)
    assert verified.returncode == 0, verified.stdout + verified.stderr
