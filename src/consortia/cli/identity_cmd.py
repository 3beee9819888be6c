"""``consortia identity renew`` and ``consortia identity rotate-ca``: certificates renewed, CAs rotated, no downtime.

Renewal
-------
``consortia identity renew --data DIR --org ORG (--peer | --orderer | --user NAME)`` has the organisation's CA
(``crypto/<org>/ca/``) certify a new key for the same holder (name, kind and attributes kept) and writes it where
the identity lives:

- a peer: ``crypto/<org>/peers/peer0/``; an orderer: ``crypto/<org>/orderers/orderer0/`` (``--name`` picks
  another node of a cluster, e.g. ``--orderer --name orderer2``);
- a program: ``crypto/<org>/users/<name>/``;
- a person: their wallet entry ``wallet/<org>/<name>/``, the new key encrypted under their own password (given with
  ``--password-file`` or ``$CONSORTIA_PASSWORD``, else asked for).

The certificate it replaces stays next to it as ``previous-cert.pem``: it is still valid until it expires or is
revoked, so endorsements and transactions already signed with it stay good. A node serving the folder
(``consortia serve``, a cluster node) follows its identity folder and signs with the new certificate within a
second or so, without a restart.

CA rotation
-----------
``consortia org rotate-ca --data DIR --org ORG`` (also ``consortia identity rotate-ca``) creates a new CA for the
organisation. The layout after it:

- ``crypto/<org>/ca/``          the **new** CA (``ca.pem``, ``ca.key``): every renewal from now on is issued by it;
- ``crypto/<org>/ca-previous/`` the **old** CA, moved there unchanged: it still signs revocation lists for the
  certificates it issued while channels list it.

A second rotation is refused while ``ca-previous`` exists: finish the first (remove the old CA from every channel,
then delete or archive ``ca-previous``). Both CAs have the subject ``O=<org>, CN=ca.<org>``; a channel tells them
apart by their keys. The rotation itself changes no channel. The operator then:

1. adds the new CA certificate next to the old one in each channel's configuration (a configuration update:
   ``consortia channel update CH --add-ca-cert ORG=crypto/ORG/ca/ca.pem --out U``, then ``consortia channel sign
   U --org …`` by enough admins and ``consortia channel submit U``);
2. renews every identity of the organisation (peer, orderer, admins, programs, people), now under the new CA —
   old certificates keep working meanwhile, since both CAs are trusted;
3. removes the old CA (``consortia channel update CH --remove-ca-cert ORG=crypto/ORG/ca-previous/ca.pem --out U``,
   signed and submitted the same way): from that block on, a certificate of the old CA is ``NOT_A_MEMBER``.

No node is stopped at any step.

TLS certificates for other hosts
--------------------------------
``consortia identity tls-issue --data DIR --org ORG --name NODE --host HOST [--host HOST…] --out DIR`` has the
organisation's TLS CA (``crypto/<org>/tlsca/``) certify a new key for a node reached at real host names or
addresses (``peer0.org1.example.com``, ``10.0.0.12``) — what a node on its own machine needs, since a client checks
that the server it dialled is named in the certificate. It writes ``cert.pem`` and ``key.pem`` (0600) to
``--out``, for the node's ``[tls]`` section, and never overwrites a key unless told to (``--force``). With
``--client`` instead of hosts it issues a certificate that only connects (an admin submitting a configuration
update to the orderers from a workstation).
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import typer
from cryptography import x509

from consortia.cli.channel_cmd import org_app
from consortia.cli.common import DATA_HELP, console, data_dir, fail, print_json, require_network
from consortia.identity import CertificateAuthority, CertificateError, SigningIdentity, format_timestamp_ms
from consortia.identity.ca import CA_CERTIFICATE_FILE
from consortia.identity.certificate import CertInfo, parse_certificate
from consortia.identity.keystore import write_private_file, write_public_file
from consortia.identity.signing import CERTIFICATE_FILE, PREVIOUS_CERTIFICATE_FILE, replace_identity
from consortia.identity.tls import CERTIFICATE_FILE as TLS_CERTIFICATE_FILE
from consortia.identity.tls import PRIVATE_KEY_FILE, TlsCertificateAuthority, TlsError
from consortia.identity.wallet import Wallet, WalletError
from consortia.network.bootstrap import crypto_dir, orderer_dir, peer_dir, tls_ca_dir, user_dir, wallet_dir

app = typer.Typer(
    help=(
        "Identities: renew a certificate (new key, same holder), rotate an organisation's CA, issue a node's TLS "
        "certificate for its host names."
    ),
    no_args_is_help=True,
)

CA_FOLDER = "ca"
PREVIOUS_CA_FOLDER = "ca-previous"
PASSWORD_VARIABLE = "CONSORTIA_PASSWORD"
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)(\*\.)?([A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*\.?$"
)


class RenewalError(Exception):
    """A renewal or rotation that cannot be made; the message says what was expected and what was found."""


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    """What a person checks about a certificate: its serial number and validity."""

    serial: int
    not_before_ms: int
    not_after_ms: int

    @classmethod
    def of(cls, info: CertInfo) -> CertificateSummary:
        """The summary of a parsed certificate."""
        return cls(info.serial, info.not_before_ms, info.not_after_ms)

    def as_json(self) -> dict[str, str]:
        """Serial in hex, validity in ISO 8601 UTC."""
        return {
            "serial": f"{self.serial:x}",
            "not_before": format_timestamp_ms(self.not_before_ms),
            "not_after": format_timestamp_ms(self.not_after_ms),
        }


@dataclass(frozen=True, slots=True)
class Renewal:
    """One identity renewed: who, where, and the certificates before and after."""

    org: str
    name: str
    kind: str
    folder: Path
    person: bool
    old: CertificateSummary
    new: CertificateSummary

    def as_json(self) -> dict[str, object]:
        """The renewal as a JSON document."""
        return {
            "org": self.org,
            "name": self.name,
            "kind": self.kind,
            "folder": str(self.folder),
            "person": self.person,
            "old": self.old.as_json(),
            "new": self.new.as_json(),
            "previous_certificate": str(self.folder / PREVIOUS_CERTIFICATE_FILE),
        }


@dataclass(frozen=True, slots=True)
class Rotation:
    """An organisation's CA rotated: the new CA's folder and the old one's."""

    org: str
    new_folder: Path
    previous_folder: Path

    @property
    def new_ca_pem(self) -> Path:
        """The new CA certificate, to add to each channel's configuration."""
        return self.new_folder / CA_CERTIFICATE_FILE

    @property
    def previous_ca_pem(self) -> Path:
        """The old CA certificate, to remove from each channel once every identity is renewed."""
        return self.previous_folder / CA_CERTIFICATE_FILE


def identity_folder(
    data: Path, org: str, *, peer: bool, orderer: bool, user: str | None, node: str | None = None
) -> tuple[Path, bool]:
    """Where the chosen identity lives, and whether it is a person's wallet entry; RenewalError if nowhere."""
    chosen = [flag for flag, given in (("--peer", peer), ("--orderer", orderer), ("--user", user is not None)) if given]
    if len(chosen) != 1:
        found = ", ".join(chosen) or "none"
        raise RenewalError(f"name exactly one identity to renew: --peer, --orderer or --user NAME (given: {found})")
    if node is not None and (user is not None or Path(node).name != node or node in (".", "..")):
        raise RenewalError(
            f"--name names a peer or orderer node folder (e.g. orderer2), with --peer or --orderer; got {node!r}"
        )
    if not crypto_dir(data, org).is_dir():
        known = sorted(path.name for path in (data / "crypto").iterdir()) if (data / "crypto").is_dir() else []
        raise RenewalError(f"{data} has no organisation {org!r} (crypto/{org}/ is missing; known: {', '.join(known)})")
    if peer or orderer:
        folder = peer_dir(data, org) if peer else orderer_dir(data, org)
        if node is not None:
            folder = folder.parent / node  # a cluster's other nodes: peers/peer1, orderers/orderer2
        if not (folder / CERTIFICATE_FILE).is_file():
            what = "peer" if peer else "orderer"
            raise RenewalError(f"{org} has no {what} identity in {folder} (no {CERTIFICATE_FILE})")
        return folder, False
    assert user is not None
    program = user_dir(data, org, user)
    if (program / CERTIFICATE_FILE).is_file():
        return program, False
    person = wallet_dir(data) / org / user
    if f"{org}/{user}" in Wallet(wallet_dir(data)).users() and (person / CERTIFICATE_FILE).is_file():
        return person, True
    raise RenewalError(f"{org} has no user {user!r}: neither {program} nor a wallet entry {org}/{user} exists")


def renew_identity(
    data: Path,
    org: str,
    *,
    peer: bool = False,
    orderer: bool = False,
    user: str | None = None,
    node: str | None = None,
    password: str | None = None,
    valid_days: int = 825,
) -> Renewal:
    """Have `org`'s current CA certify a new key for one of its identities, and write it where that identity lives."""
    folder, person = identity_folder(data, org, peer=peer, orderer=orderer, user=user, node=node)
    ca_folder = crypto_dir(data, org) / CA_FOLDER
    try:
        ca = CertificateAuthority.load(ca_folder)
    except (OSError, ValueError) as error:
        raise RenewalError(f"the CA of {org} in {ca_folder} cannot be used: {error}") from None
    old_certificate = (folder / CERTIFICATE_FILE).read_bytes()
    try:
        old = parse_certificate(old_certificate)
        renewed: SigningIdentity = ca.renew(old_certificate, valid_days=valid_days)
    except (CertificateError, ValueError) as error:
        raise RenewalError(f"{folder / CERTIFICATE_FILE}: {error}") from None
    if person:
        if password is None:
            raise RenewalError(
                f"{org}/{user} is a person: give their password (--password-file or ${PASSWORD_VARIABLE})"
            )
        try:
            Wallet(wallet_dir(data)).replace(renewed, password)
        except WalletError as error:
            raise RenewalError(str(error)) from None
    else:
        replace_identity(folder, renewed)
    return Renewal(
        org,
        renewed.name,
        renewed.kind.value,
        folder,
        person,
        CertificateSummary.of(old),
        CertificateSummary.of(renewed.info),
    )


def rotate_ca(data: Path, org: str, *, valid_days: int = 3650) -> Rotation:
    """Create a new CA for `org` in ``crypto/<org>/ca/``, moving the current one to ``crypto/<org>/ca-previous/``."""
    organisation = crypto_dir(data, org)
    current = organisation / CA_FOLDER
    previous = organisation / PREVIOUS_CA_FOLDER
    if not (current / CA_CERTIFICATE_FILE).is_file():
        raise RenewalError(f"{org} has no CA in {current} (no {CA_CERTIFICATE_FILE}): nothing to rotate")
    if previous.exists():
        raise RenewalError(
            f"a rotation of {org}'s CA is under way: {previous} exists. Finish it (remove the old CA from every "
            "channel, then delete or archive that folder) before rotating again"
        )
    try:
        old = CertificateAuthority.load(current)
    except (OSError, ValueError) as error:
        raise RenewalError(f"the CA of {org} in {current} cannot be read: {error}") from None
    if old.org != org:
        raise RenewalError(f"the CA in {current} is {old.org}'s, not {org}'s")
    staging = organisation / "ca-new"
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted rotation: it never became the CA
    CertificateAuthority.create(org, valid_days=valid_days).save(staging)
    # Two renames: at every moment crypto/<org>/ca/ is either the old CA or the new one, whole.
    current.rename(previous)
    staging.rename(current)
    return Rotation(org, current, previous)


@dataclass(frozen=True, slots=True)
class TlsIssue:
    """A node's TLS certificate issued by its organisation's TLS CA: for whom, which hosts, and where it went."""

    org: str
    name: str
    hosts: tuple[str, ...]
    certificate: Path
    private_key: Path
    serial: int

    def as_json(self) -> dict[str, object]:
        """The issued certificate as a JSON document."""
        return {
            "org": self.org,
            "name": self.name,
            "hosts": list(self.hosts),
            "cert": str(self.certificate),
            "key": str(self.private_key),
            "serial": f"{self.serial:x}",
        }


def check_host(host: str) -> str:
    """``host`` as a certificate names it: an IP address or a DNS name; RenewalError for anything else."""
    bare = host.strip()
    try:
        return str(ipaddress.ip_address(bare.strip("[]")))
    except ValueError:
        pass
    if not _DNS_NAME.match(bare) or bare.replace(".", "").isdigit():
        raise RenewalError(
            f"--host {host!r} is neither an IP address (10.0.0.12, ::1) nor a DNS name (peer0.org1.example.com)"
        )
    return bare.rstrip(".").lower()


def issue_tls(
    data: Path,
    org: str,
    name: str,
    hosts: list[str],
    out: Path,
    *,
    client: bool = False,
    force: bool = False,
    valid_days: int = 825,
) -> TlsIssue:
    """Have ``org``'s TLS CA certify a new key for node ``name`` reachable at ``hosts``; write it to ``out``."""
    if not name.strip() or Path(name).name != name:
        raise RenewalError(f"--name names the node the certificate is for (e.g. peer0), got {name!r}")
    if not hosts and not client:
        raise RenewalError(
            "give at least one --host: the names or addresses other nodes dial this node at "
            "(or --client for a certificate that only connects, e.g. an admin's)"
        )
    if hosts and client:
        raise RenewalError("--client certificates name no host: give --host or --client, not both")
    checked = tuple(dict.fromkeys(check_host(host) for host in hosts))
    folder = tls_ca_dir(data, org)
    if not (folder / "ca.pem").is_file():
        raise RenewalError(f"{org} has no TLS CA in {folder} (no ca.pem): run this where the organisation's crypto is")
    try:
        ca = TlsCertificateAuthority.load(folder)
    except TlsError as error:
        raise RenewalError(str(error)) from None
    if ca.org != org:
        raise RenewalError(f"the TLS CA in {folder} is {ca.org}'s, not {org}'s")
    if (out / PRIVATE_KEY_FILE).exists() and not force:
        raise RenewalError(f"{out / PRIVATE_KEY_FILE} exists: it is kept (give --force to replace it)")
    if out.exists() and not out.is_dir():
        raise RenewalError(f"--out {out} is a file, not a folder")
    certificate, key = ca.issue(name, checked, valid_days=valid_days)
    out.mkdir(parents=True, exist_ok=True)
    write_public_file(out / TLS_CERTIFICATE_FILE, certificate)
    write_private_file(out / PRIVATE_KEY_FILE, key)
    serial = x509.load_pem_x509_certificate(certificate).serial_number
    return TlsIssue(org, name, checked, out / TLS_CERTIFICATE_FILE, out / PRIVATE_KEY_FILE, serial)


def _password(password_file: Path | None, person: bool) -> str | None:
    """The person's password: from a file, the environment, or asked for at a terminal."""
    if password_file is not None:
        try:
            return password_file.read_text().rstrip("\n")
        except OSError as error:
            fail(f"cannot read the password file {password_file}: {error.strerror}")
    if os.environ.get(PASSWORD_VARIABLE):
        return os.environ[PASSWORD_VARIABLE]
    if person and sys.stdin.isatty():
        return getpass.getpass("password of the person whose certificate is renewed: ")
    return None


@app.command("renew")
def renew(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    org: str = typer.Option(..., "--org", help="The organisation whose CA issues the new certificate."),
    peer: bool = typer.Option(False, "--peer", help="Renew the organisation's peer (peers/peer0)."),
    orderer: bool = typer.Option(False, "--orderer", help="Renew the organisation's orderer (orderers/orderer0)."),
    user: str | None = typer.Option(None, "--user", help="Renew a user: a program (users/NAME) or a person (wallet)."),
    node: str | None = typer.Option(
        None, "--name", help="With --peer or --orderer: which node (default peer0 / orderer0), e.g. orderer2."
    ),
    password_file: Path | None = typer.Option(
        None, "--password-file", help=f"A person's password (else ${PASSWORD_VARIABLE}, else asked)."
    ),
    valid_days: int = typer.Option(825, "--valid-days", min=1, help="Validity of the new certificate, in days."),
    as_json: bool = typer.Option(False, "--json", help="Print the renewal as JSON."),
) -> None:
    """Renew a certificate: a new key certified by the organisation's CA; the old one kept as previous-cert.pem."""
    folder = data_dir(data)
    require_network(folder)
    person = False
    if user is not None and not (user_dir(folder, org, user) / CERTIFICATE_FILE).is_file():
        person = True
    try:
        renewal = renew_identity(
            folder,
            org,
            peer=peer,
            orderer=orderer,
            user=user,
            node=node,
            password=_password(password_file, person),
            valid_days=valid_days,
        )
    except RenewalError as error:
        fail(str(error), as_json=as_json)
    if as_json:
        print_json({"ok": True, **renewal.as_json()})
        return
    old, new = renewal.old.as_json(), renewal.new.as_json()
    console.print(f"renewed {renewal.name} of {renewal.org} ({renewal.kind}) in {renewal.folder}", soft_wrap=True)
    console.print(f"  old serial {old['serial']}, valid {old['not_before']} to {old['not_after']}", soft_wrap=True)
    console.print(f"      kept as {PREVIOUS_CERTIFICATE_FILE}: valid until it expires or is revoked", soft_wrap=True)
    console.print(f"  new serial {new['serial']}, valid {new['not_before']} to {new['not_after']}", soft_wrap=True)
    console.print("  a running node picks the new certificate up from the folder without a restart", soft_wrap=True)


@app.command("rotate-ca")
def rotate_ca_command(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    org: str = typer.Option(..., "--org", help="The organisation whose CA is rotated."),
    valid_days: int = typer.Option(3650, "--valid-days", min=1, help="Validity of the new CA certificate, in days."),
    as_json: bool = typer.Option(False, "--json", help="Print the new and old CA folders as JSON."),
) -> None:
    """Create a new CA for an organisation (crypto/ORG/ca/), keeping the old one in crypto/ORG/ca-previous/."""
    folder = data_dir(data)
    require_network(folder)
    try:
        rotation = rotate_ca(folder, org, valid_days=valid_days)
    except RenewalError as error:
        fail(str(error), as_json=as_json)
    if as_json:
        print_json(
            {
                "ok": True,
                "org": org,
                "new_ca": str(rotation.new_ca_pem),
                "previous_ca": str(rotation.previous_ca_pem),
            }
        )
        return
    console.print(
        f"new CA of {org}: {rotation.new_ca_pem} (the old one is now {rotation.previous_ca_pem})", soft_wrap=True
    )
    console.print(
        "next, with no node stopped (in each channel; sign each update by enough admins, then submit):", soft_wrap=True
    )
    console.print(
        f"  1. add it:              consortia channel update CH --add-ca-cert {org}={rotation.new_ca_pem} "
        "--out add.update",
        soft_wrap=True,
    )
    console.print(
        f"  2. renew every identity: consortia identity renew --org {org} --peer | --user NAME …", soft_wrap=True
    )
    console.print(
        f"  3. remove the old CA:   consortia channel update CH --remove-ca-cert {org}={rotation.previous_ca_pem} "
        "--out remove.update",
        soft_wrap=True,
    )


# The organisation commands (``consortia org create``) live with the channel commands; rotation belongs there too.
org_app.command("rotate-ca")(rotate_ca_command)


@app.command("tls-issue")
def tls_issue_command(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    org: str = typer.Option(..., "--org", help="The organisation whose TLS CA (crypto/ORG/tlsca) issues it."),
    name: str = typer.Option(..., "--name", help="The node the certificate is for, e.g. peer0 or orderer1."),
    hosts: list[str] = typer.Option(
        [], "--host", help="A host name or IP address the node is dialled at (repeat for each)."
    ),
    out: Path = typer.Option(..., "--out", help="The folder to write cert.pem and key.pem to (the node's [tls])."),
    client: bool = typer.Option(
        False, "--client", help="A certificate that only connects (an admin's, a program's): no --host."
    ),
    force: bool = typer.Option(False, "--force", help="Replace a key.pem already in --out."),
    valid_days: int = typer.Option(825, "--valid-days", min=1, help="Validity of the certificate, in days."),
    as_json: bool = typer.Option(False, "--json", help="Print the issued certificate as JSON."),
) -> None:
    """Issue a node's TLS certificate for its real host names and addresses, from its organisation's TLS CA."""
    folder = data_dir(data)
    try:
        issued = issue_tls(folder, org, name, hosts, out, client=client, force=force, valid_days=valid_days)
    except RenewalError as error:
        fail(str(error), as_json=as_json)
    if as_json:
        print_json({"ok": True, **issued.as_json()})
        return
    console.print(
        f"TLS certificate of {issued.name} ({issued.org}) for {', '.join(issued.hosts) or 'connecting only'}: "
        f"{issued.certificate}",
        soft_wrap=True,
    )
    console.print(f"  its key: {issued.private_key} (mode 0600; keep it on that host only)", soft_wrap=True)
    console.print(
        f'  in the node\'s node.toml: [tls] cert = "{issued.certificate}", key = "{issued.private_key}"', soft_wrap=True
    )
