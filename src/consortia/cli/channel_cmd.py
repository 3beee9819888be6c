"""``consortia channel`` and ``consortia org``: change who is in a channel, and under which rules, by signed updates.

A change goes through four steps, each by the person whose job it is (Fabric's ``configtxlator`` workflow, in one
command each):

1. ``consortia channel config CH`` — anyone reads the configuration in force: its version and the block that set
   it;
2. ``consortia channel update CH --add-org … --out U`` — an operator writes the next version into an update file
   and sees what it changes;
3. ``consortia channel sign U --org ORG`` — each organisation's admin reads what the update changes and signs it;
4. ``consortia channel submit U`` — anyone hands it to the ordering service: it takes effect from the next block
   if the signatures satisfy the modification policy in force, and is refused with a reason code (exit 1) if not.

``consortia org create NAME`` makes a new organisation's CA and identities, whose CA certificate step 2 adds.

The commands work on an embedded data folder and on a cluster's folder (``consortia cluster up --data DIR``): the
configuration in force is read from the ordering service's files, which it keeps current, so reading works while
a node runs; submitting to a cluster goes to its orderers over the network, and on an embedded folder through the
network opened for the command (stop ``consortia serve`` first).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
import typer
from cryptography import x509

from consortia.channel.rules import read_genesis
from consortia.channel.update import (
    ConfigRecord,
    ConfigRefused,
    config_envelope,
    describe_changes,
    genesis_record,
    propose,
    read_record,
    record_config,
    sign_update,
)
from consortia.cli.common import DATA_HELP, console, data_dir, fail, print_json, refuse_if_served
from consortia.cluster.control import Cluster
from consortia.identity import CertificateAuthority, CertificateError, SigningIdentity, parse_certificate
from consortia.identity.revocation import signer_of
from consortia.identity.tls import TlsIdentity
from consortia.ledger.block import Block
from consortia.ledger.config import ChannelConfig, ConfigTransaction, OrganisationConfig
from consortia.ledger.encoding import MalformedError, decode_canonical, encode
from consortia.network.bootstrap import create_organisation, crypto_dir, genesis_path, user_dir
from consortia.network.embedded import EmbeddedNetwork
from consortia.network.spec import SpecError
from consortia.node.remote import ClusterConnection
from consortia.node.transport import NodeTls
from consortia.ordering.base import OrderingError
from consortia.ordering.config_track import RECORD_FILE

app = typer.Typer(help="Read and change a channel's configuration by signed updates.", no_args_is_help=True)
org_app = typer.Typer(
    help="Create an organisation (its CA and identities) to add to a consortium.", no_args_is_help=True
)

_BATCH_FIELDS = ("max_transactions", "max_bytes", "timeout_ms")


def _orderer_folders(folder: Path, channel: str) -> list[Path]:
    """Where ordering nodes keep the channel: the embedded orderer's folder, or every cluster orderer's."""
    found = [folder / "orderer" / channel]
    found += sorted((folder / "nodes").glob(f"*/orderer/{channel}"))
    return [path for path in found if path.is_dir()]


def config_in_force(folder: Path, channel: str) -> ConfigRecord:
    """The channel's configuration record in force, as its ordering service holds it (the genesis one at first)."""
    genesis_file = genesis_path(folder, channel)
    if not genesis_file.is_file():
        known = sorted(p.stem for p in (folder / "genesis").glob("*.block"))
        fail(f"{folder} has no channel {channel!r} (channels: {', '.join(known) or 'none'})")
    try:
        genesis = decode_canonical(genesis_file.read_bytes(), Block)
        config, transaction = read_genesis(genesis)
    except (MalformedError, ValueError) as exc:
        fail(f"{genesis_file}: {exc}")
    best = genesis_record(config, transaction, genesis.header.timestamp_ms)
    for orderer in _orderer_folders(folder, channel):
        path = orderer / RECORD_FILE
        if path.is_file():
            try:
                record = read_record(path.read_bytes())
            except MalformedError as exc:
                fail(f"{path}: {exc}")
            if record.version > best.version:
                best = record
    return best


def _config_document(record: ConfigRecord) -> dict[str, Any]:
    config = record_config(record)
    return {
        "channel": config.name,
        "version": record.version,
        "set_by_block": record.block,
        "signed_by": list(record.signers),
        "organisations": [
            {
                "msp_id": org.msp_id,
                "ca_certificates": [_pem(c) for c in org.ca_certificates],
                "revocation_lists": len(org.revocation_lists),
            }
            for org in config.organisations
        ],
        "orderer": {
            "kind": config.orderer.kind,
            "organisations": [org.msp_id for org in config.orderer.organisations],
            "batch": msgspec.structs.asdict(config.orderer.batch),
        },
        "lifecycle_policy": config.lifecycle_policy,
        "modification_policy": config.modification_policy,
        "readers": list(config.readers),
    }


def _pem(certificate: bytes) -> str:
    return certificate.decode() if certificate.lstrip().startswith(b"-----") else certificate.hex()


@app.command("config")
def show_config(
    channel: str = typer.Argument(..., help="Channel name."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the channel's configuration in force: its version, the block that set it, and who signed it."""
    record = config_in_force(data_dir(data), channel)
    document = _config_document(record)
    if as_json:
        print_json(document)
        return
    console.print(
        f"[bold]{channel}[/] configuration version {record.version}, set by block {record.block}, "
        f"signed by {', '.join(record.signers) or 'nobody'}"
    )
    for org in document["organisations"]:
        console.print(f"  member {org['msp_id']}: {len(org['ca_certificates'])} CA certificate(s)")
    batch = document["orderer"]["batch"]
    console.print(f"  ordering: {document['orderer']['kind']} by {', '.join(document['orderer']['organisations'])}")
    console.print(
        f"  batch: {batch['max_transactions']} transactions, {batch['max_bytes']} bytes, {batch['timeout_ms']} ms"
    )
    console.print(
        f"  lifecycle policy {document['lifecycle_policy']}, modification policy {document['modification_policy']}"
    )


def _read_pem(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {what} {path}: {exc.strerror or exc}")
    try:
        parse_certificate(data) if what == "certificate" else None
    except CertificateError as exc:
        fail(f"{path} is not a certificate: {exc}")
    return data


def _read_tls_ca(path: Path) -> bytes:
    """A TLS CA certificate file (PEM); fail naming the file if it is not a CA certificate."""
    data = _read_pem(path, "TLS CA certificate")
    try:
        certificate = x509.load_pem_x509_certificate(data)
        is_ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (ValueError, x509.ExtensionNotFound) as exc:
        fail(f"--tls-ca-cert: {path} is not a PEM CA certificate: {exc}", 2)
    if not is_ca:
        fail(f"--tls-ca-cert: {path} is a certificate, but not a CA's (no basic constraint CA:TRUE)", 2)
    return data


def _revoke(folder: Path, config: ChannelConfig, certificate_file: Path) -> ChannelConfig:
    """The configuration with a CRL revoking the certificate, signed by its organisation's CA (from the folder)."""
    data = _read_pem(certificate_file, "certificate")
    info = parse_certificate(data)
    org = config.organisation(info.org)
    if org is None:
        fail(f"{certificate_file} is a certificate of {info.org}, which is not a member of {config.name!r}")
    ca_folder = crypto_dir(folder, info.org) / "ca"
    try:
        ca = CertificateAuthority.load(ca_folder)
    except (OSError, ValueError) as exc:
        fail(f"the CA of {info.org} is needed to sign the revocation ({ca_folder}): {exc}")
    previous = next((crl for crl in reversed(org.revocation_lists)), None)
    # After a CA rotation the last list may be the old CA's: the new CA carries its revocations on.
    previous_signer = signer_of(previous, org.ca_certificates) if previous is not None else None
    try:
        crl = ca.revocation_list([data], previous, previous_signer=previous_signer)
    except (CertificateError, ValueError) as exc:
        fail(f"cannot revoke {certificate_file}: {exc}")
    kept = tuple(c for c in org.revocation_lists if c != previous)
    replaced = msgspec.structs.replace(org, revocation_lists=(*kept, crl))
    return msgspec.structs.replace(
        config, organisations=tuple(replaced if o.msp_id == org.msp_id else o for o in config.organisations)
    )


def _set_batch(config: ChannelConfig, settings: list[str]) -> ChannelConfig:
    values = msgspec.structs.asdict(config.orderer.batch)
    for setting in settings:
        name, sep, value = setting.partition("=")
        if not sep or name not in _BATCH_FIELDS:
            fail(f"--set-batch takes NAME=VALUE with NAME one of {', '.join(_BATCH_FIELDS)}, not {setting!r}", 2)
        try:
            values[name] = int(value)
        except ValueError:
            fail(f"--set-batch {name}: {value!r} is not a whole number", 2)
    batch = type(config.orderer.batch)(**values)
    return msgspec.structs.replace(config, orderer=msgspec.structs.replace(config.orderer, batch=batch))


def _carry_revocations(folder: Path, org: OrganisationConfig, removed: bytes) -> tuple[bytes, ...]:
    """The org's revocation lists with those the removed CA signed carried on by its current CA (none are lost)."""
    kept: list[bytes] = []
    for crl in org.revocation_lists:
        if signer_of(crl, [removed]) is None:
            kept.append(crl)
            continue
        ca_folder = crypto_dir(folder, org.msp_id) / "ca"
        try:
            ca = CertificateAuthority.load(ca_folder)
            kept.append(ca.revocation_list([], crl, previous_signer=removed))
        except (OSError, ValueError) as exc:
            fail(
                f"the CA being removed signed a revocation list of {org.msp_id}; its current CA ({ca_folder}) must "
                f"carry it on so no revocation is lost: {exc}"
            )
    return tuple(kept)


def _org_certificate_change(folder: Path, config: ChannelConfig, spec: str, *, add: bool) -> ChannelConfig:
    org_name, sep, pem_file = spec.partition("=")
    option = "--add-ca-cert" if add else "--remove-ca-cert"
    if not sep:
        fail(f"{option} takes ORG=FILE (a CA certificate PEM file), not {spec!r}", 2)
    org = config.organisation(org_name)
    if org is None:
        fail(f"{option}: {org_name} is not a member of {config.name!r}")
    pem = _read_pem(Path(pem_file), "CA certificate")
    if add:
        changed = msgspec.structs.replace(org, ca_certificates=(*org.ca_certificates, pem))
    else:
        kept = tuple(c for c in org.ca_certificates if c.strip() != pem.strip())
        if len(kept) == len(org.ca_certificates):
            fail(f"{option}: {pem_file} is not one of the CA certificates of {org_name}")
        if not kept:
            fail(f"{option}: {org_name} would have no CA left; add the new CA first (--add-ca-cert)")
        lists = _carry_revocations(folder, org, pem)
        changed = msgspec.structs.replace(org, ca_certificates=kept, revocation_lists=lists)
    return msgspec.structs.replace(
        config, organisations=tuple(changed if o.msp_id == org_name else o for o in config.organisations)
    )


@app.command("update")
def make_update(
    channel: str = typer.Argument(..., help="Channel name."),
    out: Path = typer.Option(..., "--out", help="Where to write the update file (then sign and submit it)."),
    add_org: str | None = typer.Option(None, "--add-org", help="Organisation (MSP id) to add; needs --ca-cert."),
    ca_cert: Path | None = typer.Option(None, "--ca-cert", help="PEM file of the added organisation's CA."),
    tls_ca_cert: Path | None = typer.Option(
        None, "--tls-ca-cert", help="PEM file of the added organisation's TLS CA (its nodes' mutual TLS)."
    ),
    remove_org: str | None = typer.Option(None, "--remove-org", help="Organisation (MSP id) to remove."),
    set_batch: list[str] = typer.Option([], "--set-batch", help="Batch setting NAME=VALUE (max_transactions, …)."),
    revoke_cert: list[Path] = typer.Option([], "--revoke-cert", help="PEM certificate to revoke (its org's CA signs)."),
    add_ca_cert: list[str] = typer.Option([], "--add-ca-cert", help="ORG=FILE: add a CA certificate (CA rotation)."),
    remove_ca_cert: list[str] = typer.Option([], "--remove-ca-cert", help="ORG=FILE: remove a CA certificate."),
    lifecycle_policy: str | None = typer.Option(None, "--lifecycle-policy", help="New lifecycle policy."),
    modification_policy: str | None = typer.Option(None, "--modification-policy", help="MAJORITY, ALL or a policy."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write the channel's next configuration version into an update file, and say what it changes."""
    folder = data_dir(data)
    record = config_in_force(folder, channel)
    current = record_config(record)
    config = msgspec.structs.replace(current, version=current.version + 1)
    if (add_org is None) != (ca_cert is None):
        fail("--add-org and --ca-cert go together: the organisation's MSP id and its CA certificate", 2)
    if tls_ca_cert is not None and add_org is None:
        fail("--tls-ca-cert goes with --add-org: the TLS CA certificate of the organisation added", 2)
    if add_org is not None and ca_cert is not None:
        if config.organisation(add_org) is not None:
            fail(f"{add_org} is already a member of {channel!r}")
        pem = _read_pem(ca_cert, "CA certificate")
        tls = (_read_tls_ca(tls_ca_cert),) if tls_ca_cert is not None else ()
        config = msgspec.structs.replace(
            config, organisations=(*config.organisations, OrganisationConfig(add_org, (pem,), (), tls))
        )
    if remove_org is not None:
        if config.organisation(remove_org) is None:
            fail(f"{remove_org} is not a member of {channel!r} (members: {', '.join(config.org_ids())})")
        config = msgspec.structs.replace(
            config, organisations=tuple(o for o in config.organisations if o.msp_id != remove_org)
        )
    if set_batch:
        config = _set_batch(config, set_batch)
    for spec in add_ca_cert:
        config = _org_certificate_change(folder, config, spec, add=True)
    for spec in remove_ca_cert:
        config = _org_certificate_change(folder, config, spec, add=False)
    for certificate_file in revoke_cert:
        config = _revoke(folder, config, certificate_file)
    if lifecycle_policy is not None:
        config = msgspec.structs.replace(config, lifecycle_policy=lifecycle_policy)
    if modification_policy is not None:
        config = msgspec.structs.replace(config, modification_policy=modification_policy)
    changes = describe_changes(current, config)
    if not changes:
        fail("the update changes nothing: give --add-org, --remove-org, --set-batch, --revoke-cert, …", 2)
    out.write_bytes(encode(propose(config)))
    if as_json:
        print_json({"ok": True, "file": str(out), "version": config.version, "changes": changes})
        return
    console.print(f"wrote {out}: version {config.version} of {channel}, which")
    for change in changes:
        console.print(f"  - {change}")
    console.print(
        f"next: each admin runs 'consortia channel sign {out} --org ORG', then 'consortia channel submit {out}'"
    )


def _read_update(path: Path) -> ConfigTransaction:
    try:
        return decode_canonical(path.read_bytes(), ConfigTransaction)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    except MalformedError as exc:
        fail(f"{path} is not a configuration update (made by 'consortia channel update'): {exc}")


@app.command("sign")
def sign(
    update: Path = typer.Argument(..., help="The update file."),
    org: str = typer.Option(..., "--org", help="The organisation whose admin signs."),
    user: str = typer.Option("admin", "--user", help="The admin identity (crypto/ORG/users/USER)."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Sign an update as an organisation's admin, after reading what it changes."""
    folder = data_dir(data)
    transaction = _read_update(update)
    try:
        config = decode_canonical(transaction.config, ChannelConfig)
    except MalformedError as exc:
        fail(f"{update}: the configuration inside is malformed: {exc}")
    try:
        admin = SigningIdentity.load(user_dir(folder, org, user))
    except (OSError, ValueError) as exc:
        fail(f"no identity {org}/{user} in {folder}: {exc}")
    if admin.kind.value != "admin":
        fail(f"{org}/{user} is a {admin.kind.value}, not an admin: only admins sign configuration updates")
    current = record_config(config_in_force(folder, config.name))
    changes = describe_changes(current, config)
    signed = sign_update(transaction, admin.certificate_der, admin.sign)
    update.write_bytes(encode(signed))
    signers = sorted({parse_certificate(s.signer).org for s in signed.signatures})
    if as_json:
        print_json({"ok": True, "file": str(update), "changes": changes, "signed_by": signers})
        return
    console.print(f"{org}/{user} signed {update} (version {config.version} of {config.name}), which")
    for change in changes:
        console.print(f"  - {change}")
    console.print(f"signed so far by: {', '.join(signers)}")


@app.command("submit")
def submit(
    update: Path = typer.Argument(..., help="The signed update file."),
    org: str | None = typer.Option(None, "--org", help="Submit as this organisation's admin (cluster only)."),
    orderer: list[str] = typer.Option(
        [], "--orderer", help="An orderer's URL (repeatable): submit over the network, across machines."
    ),
    tls_dir: Path | None = typer.Option(None, "--tls", help="With --orderer: the admin's TLS cert.pem/key.pem folder."),
    tls_ca: list[Path] = typer.Option(
        [], "--tls-ca", help="With --orderer: a TLS CA the orderers' certificates chain to."
    ),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Hand a signed update to the ordering service: exit 0 once in force, 1 with the reason code if refused."""
    folder = data_dir(data)
    transaction = _read_update(update)
    if orderer:
        _submit_to_orderers(folder, transaction, orderer, org, tls_dir, tls_ca, as_json)
        return
    try:
        config = decode_canonical(transaction.config, ChannelConfig)
    except MalformedError as exc:
        fail(
            f"{update}: the configuration inside is malformed: {exc}",
            as_json=as_json,
            extra={"reason": "CONFIG_REJECTED"},
        )
    try:
        block = _submit(folder, config.name, transaction, org)
    except OrderingError as exc:
        reason = exc.reason or "REFUSED"
        fail(f"refused: {exc.message}", 1, as_json=as_json, extra={"reason": reason})
    except ConfigRefused as exc:
        fail(f"refused: {exc}", 1, as_json=as_json, extra={"reason": exc.code.name})
    if as_json:
        print_json({"ok": True, "channel": config.name, "version": config.version, "block": block})
        return
    console.print(
        f"{config.name}: configuration version {config.version} in force from block {block + 1} (set by block {block})"
    )


def _submit_to_orderers(
    folder: Path,
    transaction: ConfigTransaction,
    orderers: list[str],
    org: str | None,
    tls_dir: Path | None,
    tls_cas: list[Path],
    as_json: bool,
) -> None:
    """Submit to orderers named by URL (nodes on other machines), as ``org``'s admin from its crypto folder."""
    try:
        config = decode_canonical(transaction.config, ChannelConfig)
    except MalformedError as exc:
        fail(
            f"the configuration inside the update is malformed: {exc}",
            as_json=as_json,
            extra={"reason": "CONFIG_REJECTED"},
        )
    if org is None:
        fail("--orderer needs --org: the organisation whose admin submits (its crypto folder under --data)", 2)
    try:
        admin = SigningIdentity.load(user_dir(folder, org, "admin"))
    except (OSError, ValueError) as exc:
        fail(f"no admin identity of {org} in {folder}: {exc}", 2)
    tls = None
    if any(url.startswith("https://") for url in orderers):
        if tls_dir is None or not tls_cas:
            fail("https:// orderers need --tls DIR (the admin's TLS certificate) and --tls-ca PEM (their TLS CA)", 2)
        try:
            tls = NodeTls(TlsIdentity.load(tls_dir), [path.read_bytes() for path in tls_cas])
        except (OSError, ValueError) as exc:
            fail(f"TLS settings: {exc}", 2)
    connection = ClusterConnection(admin, {}, orderers, {config.name: []}, tls=tls)
    try:
        connection.broadcast(config.name, config_envelope(transaction))
    except OrderingError as exc:
        fail(f"refused: {exc.message}", 1, as_json=as_json, extra={"reason": exc.reason or "REFUSED"})
    finally:
        connection.close()
    if as_json:
        print_json({"ok": True, "channel": config.name, "version": config.version, "ordered": True})
        return
    console.print(f"{config.name}: configuration version {config.version} ordered; in force from the block after it")


def _submit(folder: Path, channel: str, transaction: ConfigTransaction, org: str | None) -> int:
    """Order the update on the folder's network; return the block that holds it."""
    if (folder / "cluster.json").is_file():
        cluster = Cluster.open(folder)
        in_force = config_in_force(folder, channel)
        submitter = org or record_config(in_force).org_ids()[0]
        before = in_force.version
        connection = cluster.connection(submitter, "admin")
        try:
            connection.broadcast(channel, config_envelope(transaction))
        finally:
            connection.close()
        # The orderer answers once the block is in etcd; its files say which block it was.
        for _ in range(200):
            record = config_in_force(folder, channel)
            if record.version > before:
                cluster.set_members(channel, record_config(record).org_ids())
                return record.block
            time.sleep(0.05)
        fail(
            "the update was ordered but no orderer reported the new version within 10 s; "
            "check 'consortia cluster status'"
        )
    if not (folder / "network.json").is_file():
        fail(f"{folder} holds no Consortia network")
    refuse_if_served(folder, "stop 'consortia serve' (or the demo) first, then submit")
    with EmbeddedNetwork(folder) as network:
        return network.submit_config(channel, transaction)


@org_app.command("create")
def create(
    name: str = typer.Argument(..., help="The new organisation's MSP id (letters, digits, '-' and '_')."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a new organisation's CA and identities (admin, client, peer) to add to a consortium's channels."""
    folder = data_dir(data)
    try:
        create_organisation(folder, name)
    except SpecError as exc:
        fail(str(exc), 2, as_json=as_json)
    ca = crypto_dir(folder, name) / "ca" / "ca.pem"
    if as_json:
        print_json({"ok": True, "org": name, "ca_certificate": str(ca)})
        return
    console.print(f"created {name}: CA, admin, client and peer identities under {crypto_dir(folder, name)}")
    tls_ca = crypto_dir(folder, name) / "tlsca" / "ca.pem"
    console.print(
        f"next: consortia channel update CHANNEL --add-org {name} --ca-cert {ca} --tls-ca-cert {tls_ca} "
        f"--out add-{name}.update"
    )
