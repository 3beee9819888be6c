"""Bootstrapping a network: certificate authorities, identities and signed genesis blocks.

For each organisation the bootstrap creates a CA and issues its admins, clients and one peer; for the ordering
organisation, a CA and one orderer. For each channel it writes a configuration naming the member organisations
and their CA certificates, has an admin of every member sign it, wraps it in block 0 and has the orderer sign the
block. Everything lands in the data folder::

    network.json                     the specification
    crypto/<org>/ca/                 ca.pem, ca.key (0600)
    crypto/<org>/tlsca/              the organisation's TLS CA (ECDSA P-256): certifies TLS keys, never signers
    crypto/<org>/users/<name>/       cert.pem, key.pem (0600)
    crypto/<org>/peers/peer0/        the peer's identity
    crypto/<orderer org>/orderers/orderer0/
    wallet/                          people's identities, keys encrypted under their passwords
    genesis/<channel>.block          the signed genesis block
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec

from consortia.identity import CertificateAuthority, Kind, SigningIdentity
from consortia.identity.tls import TLS_CA_DIR, TlsCertificateAuthority
from consortia.identity.wallet import Wallet
from consortia.ledger.config import (
    ChannelConfig,
    ConfigSignature,
    ConfigTransaction,
    OrdererConfig,
    OrganisationConfig,
    config_signing_bytes,
)
from consortia.ledger.encoding import encode
from consortia.ledger.merkle import CompactRange
from consortia.ledger.transaction import ENVELOPE_CONFIG, Envelope
from consortia.network.spec import SPEC_FILE, NetworkSpec, OrgSpec, SpecError, check_spec, load_spec, save_spec
from consortia.ordering.solo import make_block


def crypto_dir(directory: Path, org: str) -> Path:
    """Where an organisation's CA and identities live."""
    return Path(directory) / "crypto" / org


def tls_ca_dir(directory: Path, org: str) -> Path:
    """Where an organisation's TLS CA lives."""
    return crypto_dir(directory, org) / TLS_CA_DIR


def create_tls_ca(directory: Path, org: str) -> TlsCertificateAuthority:
    """Create and save the TLS CA of ``org`` (kept apart from its signing CA, as Fabric does)."""
    ca = TlsCertificateAuthority.create(org)
    ca.save(tls_ca_dir(directory, org))
    return ca


def user_dir(directory: Path, org: str, name: str) -> Path:
    """Where a user's certificate and key live."""
    return crypto_dir(directory, org) / "users" / name


def peer_dir(directory: Path, org: str) -> Path:
    """Where an organisation's peer identity lives."""
    return crypto_dir(directory, org) / "peers" / "peer0"


def orderer_dir(directory: Path, org: str) -> Path:
    """Where the orderer's identity lives."""
    return crypto_dir(directory, org) / "orderers" / "orderer0"


def wallet_dir(directory: Path) -> Path:
    """Where the password-protected identities of people are kept."""
    return Path(directory) / "wallet"


def genesis_path(directory: Path, channel: str) -> Path:
    """Where a channel's genesis block is kept."""
    return Path(directory) / "genesis" / f"{channel}.block"


def make_genesis(
    spec: NetworkSpec,
    channel_name: str,
    cas: dict[str, CertificateAuthority],
    admins: dict[str, SigningIdentity],
    orderer: SigningIdentity,
    now_ms: int,
    tls_cas: dict[str, TlsCertificateAuthority] | None = None,
) -> bytes:
    """Build a channel's configuration, collect every member admin's signature, and sign block 0."""
    channel = spec.channel(channel_name)

    def organisation(org: str) -> OrganisationConfig:
        tls = (tls_cas[org].certificate_pem,) if tls_cas and org in tls_cas else ()
        return OrganisationConfig(org, (cas[org].certificate_pem,), (), tls)

    config = ChannelConfig(
        name=channel.name,
        organisations=tuple(organisation(org) for org in channel.orgs),
        orderer=OrdererConfig(
            kind=spec.ordering,
            organisations=(organisation(spec.orderer_org),),
            batch=channel.batch,
        ),
        lifecycle_policy=channel.lifecycle_policy,
        created_ms=now_ms,
        readers=tuple(channel.readers),
    )
    config_bytes = encode(config)
    message = config_signing_bytes(config_bytes)
    signatures = tuple(ConfigSignature(admins[org].certificate_der, admins[org].sign(message)) for org in channel.orgs)
    envelope = encode(Envelope(ENVELOPE_CONFIG, encode(ConfigTransaction(config_bytes, signatures)), b""))
    block, _ = make_block(channel.name, 0, None, CompactRange(), [envelope], orderer, now_ms)
    return encode(block)


def create_network(directory: Path, spec: NetworkSpec) -> None:
    """Create every CA, identity and genesis block of ``spec`` under ``directory``."""
    check_spec(spec)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cas: dict[str, CertificateAuthority] = {}
    tls_cas: dict[str, TlsCertificateAuthority] = {}
    admins: dict[str, SigningIdentity] = {}
    for org in spec.orgs:
        ca = CertificateAuthority.create(org.name)
        ca.save(crypto_dir(directory, org.name) / "ca")
        cas[org.name] = ca
        tls_cas[org.name] = create_tls_ca(directory, org.name)
        for user in org.users:
            identity = ca.issue(user.name, Kind(user.kind), dict(user.attributes))
            if user.password:
                # A person's key is kept only encrypted under their password; programs' keys are plain files.
                Wallet(wallet_dir(directory)).add(identity, user.password)
            else:
                identity.save(user_dir(directory, org.name, user.name))
            if user.kind == "admin" and org.name not in admins:
                admins[org.name] = identity
        if "public" not in {user.name for user in org.users}:
            # The identity the gateway signs anonymous queries of public contract functions with.
            ca.issue("public", Kind.CLIENT, {"role": "public"}).save(user_dir(directory, org.name, "public"))
        if org.name not in admins:
            identity = ca.issue("admin", Kind.ADMIN)
            identity.save(user_dir(directory, org.name, "admin"))
            admins[org.name] = identity
        ca.issue("peer0", Kind.PEER).save(peer_dir(directory, org.name))
    orderer_ca = CertificateAuthority.create(spec.orderer_org)
    orderer_ca.save(crypto_dir(directory, spec.orderer_org) / "ca")
    cas[spec.orderer_org] = orderer_ca
    tls_cas[spec.orderer_org] = create_tls_ca(directory, spec.orderer_org)
    orderer = orderer_ca.issue("orderer0", Kind.ORDERER)
    orderer.save(orderer_dir(directory, spec.orderer_org))
    now_ms = int(time.time() * 1000)
    for channel in spec.channels:
        path = genesis_path(directory, channel.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make_genesis(spec, channel.name, cas, admins, orderer, now_ms, tls_cas))
    save_spec(directory, spec)


def create_organisation(directory: Path, name: str, *, display_name: str = "") -> OrgSpec:
    """Create a new organisation's CA, admin, client and peer identities in ``directory`` (a data folder).

    This is the first step of joining an existing consortium: the organisation's CA certificate
    (``crypto/<name>/ca/ca.pem``) and TLS CA certificate (``crypto/<name>/tlsca/ca.pem``) are what the members
    then add to a channel by a configuration update. If the
    folder holds a network (``network.json``), the organisation is added to its specification, in no channel yet.
    """
    directory = Path(directory)
    org = OrgSpec(name, display_name)
    spec = load_spec(directory) if (directory / SPEC_FILE).is_file() else None
    if spec is not None:
        if name in {o.name for o in spec.orgs} or name == spec.orderer_org:
            raise SpecError(f"organisation {name!r} already exists in {directory}")
        check_spec(msgspec.structs.replace(spec, orgs=(*spec.orgs, org)))
    elif not name.replace("-", "_").isidentifier():
        raise SpecError(f"organisation name {name!r}: use letters, digits, '-' and '_'")
    if (crypto_dir(directory, name) / "ca").exists():
        raise SpecError(f"{crypto_dir(directory, name) / 'ca'} already exists: organisation {name!r} has a CA")
    ca = CertificateAuthority.create(name)
    ca.save(crypto_dir(directory, name) / "ca")
    ca.issue("admin", Kind.ADMIN).save(user_dir(directory, name, "admin"))
    ca.issue("client", Kind.CLIENT).save(user_dir(directory, name, "client"))
    ca.issue("public", Kind.CLIENT, {"role": "public"}).save(user_dir(directory, name, "public"))
    ca.issue("peer0", Kind.PEER).save(peer_dir(directory, name))
    create_tls_ca(directory, name)
    if spec is not None:
        save_spec(directory, msgspec.structs.replace(spec, orgs=(*spec.orgs, org)))
    return org
