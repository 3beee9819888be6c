"""The multi-host runbook holds together: unit files, example configurations, ``tls-issue`` and the README agree.

The systemd units in ``deploy/systemd/`` are parsed as INI (systemd's format is close enough for configparser),
their ``ExecStart`` commands checked against the real CLI, their paths against the runbook and the example
``node.toml`` files, which must pass the node's own configuration check. ``consortia identity tls-issue`` is run
for real: the certificate names the hosts asked for, and bad input is refused without touching an existing key.
"""

from __future__ import annotations

import configparser
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner

from consortia.cli.main import app
from consortia.identity.tls import TlsCertificateAuthority
from consortia.network.bootstrap import tls_ca_dir
from consortia.node.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "deploy" / "systemd"
README = (ROOT / "README.md").read_text()
RUNBOOK = README.split("### Running across machines", 1)[-1].split("\n## ", 1)[0]
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "User": "consortia", "Group": "consortia"}


def _unit(name: str) -> configparser.ConfigParser:
    """A unit file parsed as INI (no interpolation: systemd's %i is not Python's)."""
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((UNITS / name).read_text(), source=name)
    return parser


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_runbook_names_the_unit_files_and_they_exist() -> None:
    """The README's runbook is there and every deploy file it names exists (and the reverse)."""
    assert "### Running across machines" in README
    named = set(re.findall(r"deploy/systemd/([\w.@-]+)", RUNBOOK))
    present = {path.name for path in UNITS.iterdir()}
    assert named, "the runbook names no file of deploy/systemd/"
    assert named <= present, f"named in the runbook but missing: {named - present}"
    assert present <= named, f"in deploy/systemd/ but not in the runbook: {present - named}"


@pytest.mark.parametrize("name", ["consortia-node@.service", "consortia-etcd.service"])
def test_units_run_unprivileged_and_hardened(name: str) -> None:
    """Each unit runs as the consortia user, with no new privileges and a read-only system but its data folder."""
    unit = _unit(name)
    service = unit["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == value, f"{name}: {key}={service.get(key)!r}, expected {value!r}"
    writable = service.get("ReadWritePaths", "").split()
    assert writable and all(path.startswith("/var/lib/consortia/") for path in writable), writable
    assert service.get("CapabilityBoundingSet") == "", f"{name}: capabilities are not all dropped"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert "network-online.target" in unit["Unit"]["After"]


def test_node_unit_runs_the_real_command_on_the_runbook_paths() -> None:
    """ExecStart is ``consortia node --config <data>/node.toml``, an option the CLI has, on the runbook's paths."""
    service = _unit("consortia-node@.service")["Service"]
    command = shlex.split(service["ExecStart"])
    assert Path(command[0]).name == "consortia" and command[1] == "node", command
    options = dict(zip(command[2::2], command[3::2], strict=True))
    assert set(options) == {"--config"}, options
    code, help_text = _invoke("node", "--help")
    assert code == 0 and "--config" in help_text
    instance = "Org1.peer0"
    config = Path(options["--config"].replace("%i", instance))
    data = Path(service["ReadWritePaths"].replace("%i", instance))
    assert config.parent == data == Path(service["WorkingDirectory"].replace("%i", instance))
    # The runbook states the same install, configuration and data paths.
    assert command[0] in RUNBOOK and str(config) in RUNBOOK and str(data) in RUNBOOK
    # The example configuration of that node is for that folder, and its data is the writable one.
    example = parse_config((UNITS / f"{instance}.node.toml").read_bytes(), UNITS / f"{instance}.node.toml")
    assert example.name == instance and Path(example.data) == data
    assert service["RestartPreventExitStatus"] == "2"  # what `consortia node` exits with on a bad configuration


def test_etcd_unit_and_settings_are_real_etcd_flags() -> None:
    """The etcd unit runs etcd with the settings file; every ETCD_X in the example is a flag etcd knows."""
    service = _unit("consortia-etcd.service")["Service"]
    assert shlex.split(service["ExecStart"]) == ["/usr/bin/etcd"]
    assert service["EnvironmentFile"] == "/etc/consortia/etcd.env"
    settings = {}
    for line in (UNITS / "etcd.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key] = value
    assert settings["ETCD_DATA_DIR"].startswith(service["ReadWritePaths"] + "/")
    assert settings["ETCD_CLIENT_CERT_AUTH"] == "true" and settings["ETCD_PEER_CLIENT_CERT_AUTH"] == "true"
    assert all(url.startswith("https://") for key, url in settings.items() if key.endswith("_URLS"))
    etcd = shutil.which("etcd") or ("/usr/bin/etcd" if Path("/usr/bin/etcd").exists() else None)
    if etcd is None:
        pytest.skip("etcd is not installed: its flags cannot be checked")
    flags = set(re.findall(r"--([a-z0-9-]+)", subprocess.run([etcd, "--help"], capture_output=True, text=True).stdout))
    unknown = [key for key in settings if key.removeprefix("ETCD_").lower().replace("_", "-") not in flags]
    assert not unknown, f"not etcd flags: {unknown}"


@pytest.mark.parametrize("name", ["Org1.peer0.node.toml", "orderer0.node.toml"])
def test_example_configurations_pass_the_node_check(name: str) -> None:
    """The example node.toml files use host names, listen on every interface and advertise their name."""
    config = parse_config((UNITS / name).read_bytes(), UNITS / name)
    assert config.listen.startswith("0.0.0.0:") and config.advertise.startswith("https://")
    host = config.advertise.split("://", 1)[1].rsplit(":", 1)[0]
    assert host.endswith(".example.com") and host in RUNBOOK.replace("…", "")
    assert config.tls is not None and all(ref.endpoint.startswith("https://") for ref in config.orderers)


def test_config_takes_host_names_and_refuses_an_unreachable_advertisement() -> None:
    """Host names and [IPv6] endpoints pass; 0.0.0.0 without advertise is refused naming the field."""
    base = (UNITS / "Org1.peer0.node.toml").read_text()
    ipv6 = base.replace("https://orderer1.example.com:7050", "https://[2001:db8::11]:7050")
    assert parse_config(ipv6.encode(), Path("x.toml")).orderers[1].endpoint == "https://[2001:db8::11]:7050"
    silent = re.sub(r"(?m)^advertise = .*$", "", base)
    with pytest.raises(ConfigError) as refused:
        parse_config(silent.encode(), Path("x.toml"))
    assert refused.value.field == "advertise" and "0.0.0.0:7051" in refused.value.message
    named = base.replace('listen = "0.0.0.0:7051"', 'listen = "peer0.org1.example.com:7051"')
    named = re.sub(r"(?m)^advertise = .*$", "", named)
    assert parse_config(named.encode(), Path("x.toml")).listen == "peer0.org1.example.com:7051"


def test_the_runbook_submit_command_uses_options_that_exist() -> None:
    """The runbook's cross-machine ``channel submit`` uses only options the command has."""
    commands = re.findall(r"consortia channel submit [^`]*?(?:\n\n|```)", RUNBOOK.replace("\\\n", " "), re.S)
    across = [c for c in commands if "--orderer" in c]
    assert across, "the runbook shows no 'channel submit --orderer' across machines"
    helped = subprocess.run(
        [sys.executable, "-m", "consortia", "channel", "submit", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    for option in set(re.findall(r"(--[a-z][a-z-]+)", across[0])):
        assert option in helped, f"consortia channel submit has no {option}"


# -- consortia identity tls-issue -------------------------------------------------------------------------------


@pytest.fixture
def org_folder(tmp_path: Path) -> Path:
    """A data folder holding only Org1's TLS CA, as an organisation's admin workstation would."""
    TlsCertificateAuthority.create("Org1").save(tls_ca_dir(tmp_path, "Org1"))
    return tmp_path


def test_tls_issue_names_the_hosts(org_folder: Path) -> None:
    """The certificate names each host (DNS or IP), is issued by the org's TLS CA, and its key is 0600."""
    out = org_folder / "peer0-tls"
    code, output = _invoke(
        "identity", "tls-issue", "--data", str(org_folder), "--org", "Org1", "--name", "Org1.peer0",
        "--host", "peer0.org1.example.com", "--host", "10.1.0.12", "--host", "2001:db8::12", "--out", str(out),
        "--json",
    )  # fmt: skip
    assert code == 0, output
    issued = json.loads(output)
    assert issued["hosts"] == ["peer0.org1.example.com", "10.1.0.12", "2001:db8::12"]
    certificate = x509.load_pem_x509_certificate((out / "cert.pem").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["peer0.org1.example.com"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.1.0.12"),
        ipaddress.ip_address("2001:db8::12"),
    ]
    ca = TlsCertificateAuthority.load(tls_ca_dir(org_folder, "Org1"))
    assert certificate.issuer == ca.certificate.subject
    certificate.verify_directly_issued_by(ca.certificate)
    assert (out / "key.pem").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--org", "Org1", "--name", "p", "--host", "bad host!"], "neither an IP address"),
        (["--org", "Org1", "--name", "p", "--host", "999.1.1.1"], "neither an IP address"),
        (["--org", "Org1", "--name", "p"], "give at least one --host"),
        (["--org", "Org1", "--name", "p", "--client", "--host", "a.example.com"], "not both"),
        (["--org", "Org9", "--name", "p", "--host", "a.example.com"], "Org9 has no TLS CA"),
        (["--org", "Org1", "--name", "../p", "--host", "a.example.com"], "--name"),
        (["--org", "Org1", "--name", "p", "--host", "a.example.com"], "exists: it is kept"),
    ],
)
def test_tls_issue_refuses_bad_input_and_keeps_the_existing_key(
    org_folder: Path, args: list[str], expected: str
) -> None:
    """Bad input exits 1 naming what was wrong; a key already in --out is left as it was."""
    out = org_folder / "tls"
    out.mkdir()
    (out / "key.pem").write_bytes(b"the key in service")
    code, output = _invoke("identity", "tls-issue", "--data", str(org_folder), *args, "--out", str(out), "--json")
    assert code == 1, output
    answer = json.loads(output)
    assert answer["ok"] is False and expected in answer["error"], answer
    assert (out / "key.pem").read_bytes() == b"the key in service"
    assert not (out / "cert.pem").exists()


def test_tls_issue_client_certificate_and_force(org_folder: Path) -> None:
    """--client issues a certificate naming no host; --force replaces a key that is there."""
    out = org_folder / "admin-tls"
    out.mkdir()
    (out / "key.pem").write_bytes(b"old")
    code, output = _invoke(
        "identity", "tls-issue", "--data", str(org_folder), "--org", "Org1", "--name", "admin", "--client",
        "--force", "--out", str(out), "--json",
    )  # fmt: skip
    assert code == 0, output
    assert json.loads(output)["hosts"] == []
    assert (out / "key.pem").read_bytes() != b"old"
    certificate = x509.load_pem_x509_certificate((out / "cert.pem").read_bytes())
    with pytest.raises(x509.ExtensionNotFound):
        certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
