"""Tests for `consortia.identity`: certificate authorities, certificates, signing and channel membership."""

import hashlib
import pickle
import shutil
import stat
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from consortia.identity import (
    ATTRIBUTES_OID,
    Attributes,
    CertificateAuthority,
    CertificateError,
    CertInfo,
    Kind,
    Membership,
    MembershipError,
    SigningIdentity,
    format_timestamp_ms,
    parse_certificate,
    timestamp_ms,
    verify_signature,
)
from consortia.identity.revocation import describe_revocation_list, signer_of

NOW = datetime.now(UTC).replace(microsecond=0)
NOW_MS = timestamp_ms(NOW)


@pytest.fixture(scope="module", autouse=True)
def _now_when_these_tests_run() -> None:
    """Take "now" when this module's tests start, not when the suite was collected (minutes earlier)."""
    global NOW, NOW_MS
    NOW = datetime.now(UTC).replace(microsecond=0)
    NOW_MS = timestamp_ms(NOW)


@pytest.fixture(scope="module")
def org1() -> CertificateAuthority:
    return CertificateAuthority.create("Org1")


@pytest.fixture(scope="module")
def org2() -> CertificateAuthority:
    return CertificateAuthority.create("Org2")


@pytest.fixture(scope="module")
def channel(org1: CertificateAuthority, org2: CertificateAuthority) -> Membership:
    return Membership({"Org1": org1.certificate_pem, "Org2": org2.certificate_der})


def name_of(org: str, kind: str | None, common_name: str) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if kind is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, kind))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def handmade_certificate(
    subject: x509.Name,
    issuer: x509.Name,
    signing_key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey,
    public_key: object,
    *,
    ca: bool = False,
) -> bytes:
    """Build a certificate outside any CertificateAuthority, as a forger would."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    algorithm = None if isinstance(signing_key, Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signing_key, algorithm=algorithm).public_bytes(Encoding.DER)


def ca_private_key(ca: CertificateAuthority) -> Ed25519PrivateKey:
    """The CA's key: a test may reach inside, to forge what only the CA should be able to make."""
    return ca._private_key


def expect_rejection(membership: Membership, der: bytes, code: str, *words: str, **kwargs: object) -> str:
    with pytest.raises(MembershipError) as caught:
        membership.validate(der, at_ms=kwargs.pop("at_ms", NOW_MS), **kwargs)  # type: ignore[arg-type]
    assert caught.value.code == code
    for word in words:
        assert word in caught.value.message
    assert str(caught.value) == caught.value.message
    return caught.value.message


# Issuing


@pytest.mark.parametrize("kind", list(Kind))
def test_issue_each_kind(org1: CertificateAuthority, channel: Membership, kind: Kind) -> None:
    identity = org1.issue(f"{kind.value}0", kind)
    assert (identity.org, identity.name, identity.kind) == ("Org1", f"{kind.value}0", kind)
    assert identity.info.attributes == {}
    assert identity.info.role() is None
    assert len(identity.info.public_key) == 32
    assert identity.info.cert_hash == hashlib.sha256(identity.certificate_der).digest()
    assert channel.validate(identity.certificate_der, at_ms=NOW_MS, kinds={kind}) == identity.info

    message = b"endorse transaction 42"
    signature = identity.sign(message)
    assert len(signature) == 64
    assert verify_signature(identity.info.public_key, message, signature)
    assert not verify_signature(identity.info.public_key, message + b"!", signature)


def test_issue_accepts_kind_names(org1: CertificateAuthority) -> None:
    assert org1.issue("peer1", "peer").kind is Kind.PEER


def test_subject_names_org_kind_and_name(org1: CertificateAuthority) -> None:
    certificate = x509.load_der_x509_certificate(org1.issue("peer0", Kind.PEER).certificate_der)
    assert certificate.subject == name_of("Org1", "peer", "peer0")
    assert certificate.version == x509.Version.v3
    assert certificate.issuer == x509.load_pem_x509_certificate(org1.certificate_pem).subject


def test_serial_numbers_are_random(org1: CertificateAuthority) -> None:
    serials = {
        x509.load_der_x509_certificate(org1.issue("alice", Kind.CLIENT).certificate_der).serial_number for _ in range(5)
    }
    assert len(serials) == 5


def test_ca_certificate_is_a_self_signed_root(org1: CertificateAuthority) -> None:
    certificate = x509.load_pem_x509_certificate(org1.certificate_pem)
    assert certificate.subject == certificate.issuer
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    certificate.verify_directly_issued_by(certificate)
    assert org1.certificate_der == certificate.public_bytes(Encoding.DER)
    assert org1.org == "Org1"


@pytest.mark.parametrize("kind", ["ca", "member", "", "PEER"])
def test_issue_refuses_an_unknown_kind(org1: CertificateAuthority, kind: str) -> None:
    with pytest.raises(ValueError, match=r"unknown identity kind .*: expected one of admin, peer, orderer, client"):
        org1.issue("alice", kind)


@pytest.mark.parametrize("name", ["", "   ", " alice"])
def test_issue_refuses_a_bad_name(org1: CertificateAuthority, name: str) -> None:
    with pytest.raises(ValueError, match="identity name"):
        org1.issue(name, Kind.CLIENT)


def test_create_refuses_an_empty_org() -> None:
    with pytest.raises(ValueError, match="organisation name must not be empty"):
        CertificateAuthority.create("")


@pytest.mark.parametrize("attributes", [{"role": 1}, {2: "x"}, {"": "x"}, {"role": None}])
def test_issue_refuses_attributes_that_are_not_strings(
    org1: CertificateAuthority, attributes: dict[object, object]
) -> None:
    with pytest.raises(ValueError, match="attribute"):
        org1.issue("alice", Kind.CLIENT, attributes)  # type: ignore[arg-type]


@pytest.mark.parametrize("valid_days", [0, -1])
def test_issue_refuses_an_empty_validity(org1: CertificateAuthority, valid_days: int) -> None:
    with pytest.raises(ValueError, match="valid_days"):
        org1.issue("alice", Kind.CLIENT, valid_days=valid_days)


def test_issue_refuses_naive_datetimes(org1: CertificateAuthority) -> None:
    with pytest.raises(ValueError, match="time zone"):
        org1.issue("alice", Kind.CLIENT, not_before=datetime(2030, 1, 1))


# Certificates


def test_attributes_round_trip(org1: CertificateAuthority) -> None:
    attributes = {"role": "clinician", "hospital": "Chuncheon", "ward": "소아과"}
    identity = org1.issue("dr.kim", Kind.CLIENT, attributes)
    info = parse_certificate(identity.certificate_der)
    assert info.attributes == attributes
    assert dict(info.attributes) == attributes
    assert info.role() == "clinician"
    assert org1.issue("reg", Kind.CLIENT, {"role": "regulator"}).info.role() == "regulator"


def test_attribute_extension_is_canonical_json(org1: CertificateAuthority) -> None:
    identity = org1.issue("dr.kim", Kind.CLIENT, {"role": "clinician", "hospital": "Chuncheon"})
    certificate = x509.load_der_x509_certificate(identity.certificate_der)
    extension = certificate.extensions.get_extension_for_oid(ATTRIBUTES_OID)
    assert not extension.critical
    assert extension.value.value == b'{"attrs":{"hospital":"Chuncheon","role":"clinician"}}'


def test_no_attributes_means_no_extension(org1: CertificateAuthority) -> None:
    certificate = x509.load_der_x509_certificate(org1.issue("bob", Kind.CLIENT).certificate_der)
    with pytest.raises(x509.ExtensionNotFound):
        certificate.extensions.get_extension_for_oid(ATTRIBUTES_OID)


def test_parse_pem_and_der_agree(org1: CertificateAuthority) -> None:
    identity = org1.issue("alice", Kind.CLIENT, {"role": "auditor"})
    from_der = parse_certificate(identity.certificate_der)
    from_pem = parse_certificate(identity.certificate_pem)
    assert from_der == from_pem == identity.info
    assert identity.certificate_pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_cert_info_is_immutable_and_hashable(org1: CertificateAuthority) -> None:
    identity = org1.issue("alice", Kind.CLIENT, {"role": "auditor"})
    info = identity.info
    reparsed = parse_certificate(identity.certificate_der)
    assert reparsed == info and reparsed is not info
    assert hash(reparsed) == hash(info)
    assert {info: 1}[info] == 1
    with pytest.raises(AttributeError):
        info.org = "Org2"  # type: ignore[misc]
    with pytest.raises(TypeError):
        info.attributes["role"] = "admin"  # type: ignore[index]


def test_cert_info_built_by_hand_is_coerced() -> None:
    info = CertInfo(
        org="Org1",
        name="alice",
        kind="client",  # type: ignore[arg-type]
        attributes={"role": "auditor"},
        public_key=bytes(32),
        not_before_ms=0,
        not_after_ms=1,
        cert_hash=bytes(32),
    )
    assert info.kind is Kind.CLIENT
    assert isinstance(info.attributes, Attributes)
    assert info.role() == "auditor"
    hash(info)


def test_validity_period_in_milliseconds(org1: CertificateAuthority) -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    info = org1.issue("alice", Kind.CLIENT, valid_days=10, not_before=start).info
    assert info.not_before_ms == timestamp_ms(start) == 1_893_456_000_000
    assert info.not_after_ms == timestamp_ms(start + timedelta(days=10))


def test_default_validity_starts_a_little_before_now(org1: CertificateAuthority) -> None:
    info = org1.issue("alice", Kind.CLIENT).info
    assert NOW_MS - 10 * 60_000 <= info.not_before_ms <= NOW_MS
    assert info.not_after_ms - info.not_before_ms == 825 * 86_400_000


@pytest.mark.parametrize("garbage", [b"", b"garbage", b"\x30\x03\x02\x01\x00", b"-----BEGIN CERTIFICATE-----\nxx"])
def test_parse_refuses_garbage(garbage: bytes) -> None:
    with pytest.raises(CertificateError, match="certificate"):
        parse_certificate(garbage)


def test_parse_refuses_non_certificates() -> None:
    with pytest.raises(CertificateError):
        parse_certificate("a string")  # type: ignore[arg-type]
    assert issubclass(CertificateError, ValueError)


def test_parse_refuses_a_key_that_is_not_ed25519() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = handmade_certificate(
        name_of("Org1", "client", "alice"), name_of("Org1", None, "ca.Org1"), key, key.public_key()
    )
    with pytest.raises(CertificateError, match="not an Ed25519 key"):
        parse_certificate(der)


@pytest.mark.parametrize(
    ("subject", "complaint"),
    [
        (x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")]), "no O"),
        (name_of("Org1", None, "alice"), "no OU"),
        (
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Org1"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "client"),
                ]
            ),
            "no CN",
        ),
        (name_of("Org1", "ca", "alice"), "unknown identity kind 'ca'"),
    ],
)
def test_parse_refuses_an_incomplete_subject(subject: x509.Name, complaint: str) -> None:
    key = Ed25519PrivateKey.generate()
    der = handmade_certificate(subject, subject, key, key.public_key())
    with pytest.raises(CertificateError, match=complaint):
        parse_certificate(der)


def test_parse_refuses_malformed_attributes() -> None:
    key = Ed25519PrivateKey.generate()
    subject = name_of("Org1", "client", "alice")
    for value in (b"not json", b'{"attrs": {"role": 7}}', b'["attrs"]'):
        der = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(NOW)
            .not_valid_after(NOW + timedelta(days=1))
            .add_extension(x509.UnrecognizedExtension(ATTRIBUTES_OID, value), critical=False)
            .sign(key, algorithm=None)
            .public_bytes(Encoding.DER)
        )
        with pytest.raises(CertificateError, match="attribute"):
            parse_certificate(der)


def test_certificates_are_readable_by_openssl(org1: CertificateAuthority, tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    identity = org1.issue("dr.kim", Kind.CLIENT, {"role": "clinician"})
    (tmp_path / "ca.pem").write_bytes(org1.certificate_pem)
    (tmp_path / "cert.pem").write_bytes(identity.certificate_pem)
    text = subprocess.run(
        [openssl, "x509", "-in", tmp_path / "cert.pem", "-noout", "-text"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "Version: 3" in text
    assert "O = Org1, OU = client, CN = dr.kim" in text
    assert '{"attrs":{"role":"clinician"}}' in text
    verified = subprocess.run(
        [openssl, "verify", "-CAfile", tmp_path / "ca.pem", tmp_path / "cert.pem"],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr


# Signatures: RFC 8032 §7.1, Ed25519 TEST 1, 2 and 3 (secret key, public key, message, signature).
RFC8032_VECTORS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
        "d25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c"
        "387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc659"
        "4a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    public_key, msg, sig = bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    assert verify_signature(public_key, msg, sig)

    for index in (0, 31, 63):
        flipped = bytearray(sig)
        flipped[index] ^= 0x01
        assert not verify_signature(public_key, msg, bytes(flipped))
    flipped_key = bytearray(public_key)
    flipped_key[0] ^= 0x80
    assert not verify_signature(bytes(flipped_key), msg, sig)
    assert not verify_signature(public_key, msg + b"\x00", sig)

    # Signing goes through a SigningIdentity, so give the RFC key a certificate and sign with it.
    seed = bytes.fromhex(secret)
    key = Ed25519PrivateKey.from_private_bytes(seed)
    subject = name_of("Org1", "client", "rfc8032")
    identity = SigningIdentity(handmade_certificate(subject, subject, key, key.public_key()), seed)
    assert identity.info.public_key == public_key
    assert identity.sign(msg) == sig


@pytest.mark.parametrize(
    ("public_key", "message", "signature"),
    [
        (bytes(31), b"m", bytes(64)),
        (bytes(33), b"m", bytes(64)),
        (bytes(32), b"m", bytes(63)),
        (bytes(32), b"m", bytes(65)),
        (bytes(32), b"m", bytes(64)),
        (b"\xff" * 32, b"m", b"\xff" * 64),
        (None, b"m", bytes(64)),
        (bytes(32), None, bytes(64)),
        (bytes(32), b"m", None),
        ("k" * 32, "m", "s" * 64),
        (32, b"m", 64),
    ],
)
def test_verify_signature_is_false_on_garbage(public_key: object, message: object, signature: object) -> None:
    assert verify_signature(public_key, message, signature) is False  # type: ignore[arg-type]


def test_verify_signature_accepts_bytes_like(org1: CertificateAuthority) -> None:
    identity = org1.issue("alice", Kind.CLIENT)
    signature = identity.sign(b"hello")
    assert verify_signature(bytearray(identity.info.public_key), memoryview(b"hello"), bytearray(signature))


def test_signing_identity_refuses_a_key_of_another_certificate(org1: CertificateAuthority) -> None:
    alice = org1.issue("alice", Kind.CLIENT)
    with pytest.raises(ValueError, match="does not belong"):
        SigningIdentity(alice.certificate_der, Ed25519PrivateKey.generate().private_bytes_raw())


def test_signing_identity_repr_hides_the_key(org1: CertificateAuthority) -> None:
    alice = org1.issue("alice", Kind.CLIENT)
    assert repr(alice) == "SigningIdentity(org='Org1', name='alice', kind='client')"


# Files


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_identity_save_and_load(org1: CertificateAuthority, tmp_path: Path) -> None:
    identity = org1.issue("peer0", Kind.PEER, {"role": "endorser"})
    identity.save(tmp_path / "peer0")
    assert file_mode(tmp_path / "peer0" / "key.pem") == 0o600
    assert (tmp_path / "peer0" / "key.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert sorted(path.name for path in (tmp_path / "peer0").iterdir()) == ["cert.pem", "key.pem"]

    loaded = SigningIdentity.load(tmp_path / "peer0")
    assert loaded.certificate_der == identity.certificate_der
    assert loaded.info == identity.info
    # Ed25519 is deterministic: the same key signs the same message identically.
    assert loaded.sign(b"block 7") == identity.sign(b"block 7")


def test_identity_save_with_password(org1: CertificateAuthority, tmp_path: Path) -> None:
    identity = org1.issue("admin", Kind.ADMIN)
    identity.save(tmp_path, password=b"correct horse")
    assert file_mode(tmp_path / "key.pem") == 0o600
    assert b"ENCRYPTED" in (tmp_path / "key.pem").read_bytes()
    assert SigningIdentity.load(tmp_path, password=b"correct horse").sign(b"x") == identity.sign(b"x")
    with pytest.raises(ValueError, match="cannot read private key"):
        SigningIdentity.load(tmp_path, password=b"wrong")
    with pytest.raises(ValueError, match="cannot read private key"):
        SigningIdentity.load(tmp_path)


def test_save_overwrites_a_key_file_and_keeps_it_private(org1: CertificateAuthority, tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_bytes(b"old")
    (tmp_path / "key.pem").chmod(0o644)
    identity = org1.issue("alice", Kind.CLIENT)
    identity.save(tmp_path)
    assert file_mode(tmp_path / "key.pem") == 0o600
    assert SigningIdentity.load(tmp_path).info == identity.info


def test_ca_save_and_load(org1: CertificateAuthority, channel: Membership, tmp_path: Path) -> None:
    org1.save(tmp_path / "ca")
    assert file_mode(tmp_path / "ca" / "ca.key") == 0o600
    assert sorted(path.name for path in (tmp_path / "ca").iterdir()) == ["ca.key", "ca.pem"]

    loaded = CertificateAuthority.load(tmp_path / "ca")
    assert loaded.org == "Org1"
    assert loaded.certificate_pem == org1.certificate_pem
    # The reloaded CA issues certificates the channel, configured with the original, accepts.
    issued = loaded.issue("peer9", Kind.PEER)
    assert channel.validate(issued.certificate_der, at_ms=NOW_MS).org == "Org1"


def test_ca_load_refuses_a_key_of_another_ca(
    org1: CertificateAuthority, org2: CertificateAuthority, tmp_path: Path
) -> None:
    org1.save(tmp_path / "one")
    org2.save(tmp_path / "two")
    shutil.copy(tmp_path / "two" / "ca.key", tmp_path / "one" / "ca.key")
    with pytest.raises(ValueError, match="does not belong"):
        CertificateAuthority.load(tmp_path / "one")


# Membership


def test_membership_accepts_members(
    org1: CertificateAuthority, org2: CertificateAuthority, channel: Membership
) -> None:
    assert channel.orgs == ("Org1", "Org2")
    assert "Org1" in channel and "Org9" not in channel
    for ca in (org1, org2):
        identity = ca.issue("peer0", Kind.PEER)
        info = channel.validate(identity.certificate_der, at_ms=NOW_MS, kinds=(Kind.PEER, Kind.ORDERER))
        assert info == identity.info
        assert info.org == ca.org


def test_membership_accepts_pem(org1: CertificateAuthority, channel: Membership) -> None:
    identity = org1.issue("alice", Kind.CLIENT)
    assert channel.validate(identity.certificate_pem, at_ms=NOW_MS) == identity.info


def test_membership_rejects_an_org_outside_the_channel(channel: Membership) -> None:
    stranger = CertificateAuthority.create("Org9").issue("alice", Kind.CLIENT)
    expect_rejection(
        channel,
        stranger.certificate_der,
        "NOT_A_MEMBER",
        "certificate 'alice' of Org9: Org9 is not a member of this channel",
    )


def test_membership_rejects_another_channels_ca_of_the_same_name(channel: Membership) -> None:
    # Another channel's "Org1" CA: same subject as our Org1 CA, different key.
    impostor = CertificateAuthority.create("Org1").issue("alice", Kind.CLIENT)
    expect_rejection(channel, impostor.certificate_der, "NOT_A_MEMBER", "'alice' of Org1", "does not verify")


def test_membership_rejects_org2_certifying_for_org1(
    org1: CertificateAuthority, org2: CertificateAuthority, channel: Membership
) -> None:
    key = Ed25519PrivateKey.generate()
    subject = name_of("Org1", "admin", "mallory")
    org1_ca = x509.load_pem_x509_certificate(org1.certificate_pem).subject
    org2_ca = x509.load_pem_x509_certificate(org2.certificate_pem).subject

    # Honest about the issuer: signed by Org2's CA and saying so.
    honest = handmade_certificate(subject, org2_ca, ca_private_key(org2), key.public_key())
    expect_rejection(channel, honest, "NOT_A_MEMBER", "'mallory' of Org1", "not by the CA of Org1")
    # Lying about the issuer: signed by Org2's CA, claiming Org1's.
    lying = handmade_certificate(subject, org1_ca, ca_private_key(org2), key.public_key())
    assert parse_certificate(lying).org == "Org1"
    expect_rejection(channel, lying, "NOT_A_MEMBER", "'mallory' of Org1", "does not verify")


def test_membership_rejects_tampered_certificates(org1: CertificateAuthority, channel: Membership) -> None:
    der = org1.issue("alice", Kind.CLIENT, {"role": "clinician"}).certificate_der
    channel.validate(der, at_ms=NOW_MS)  # cached: tampering must not be served from the cache

    renamed = der.replace(b"alice", b"alicf")
    assert parse_certificate(renamed).name == "alicf"
    expect_rejection(channel, renamed, "NOT_A_MEMBER", "'alicf' of Org1", "does not verify")

    promoted = der.replace(b'"clinician"', b'"regulator"')
    assert parse_certificate(promoted).role() == "regulator"
    expect_rejection(channel, promoted, "NOT_A_MEMBER", "does not verify")

    bad_signature = der[:-1] + bytes([der[-1] ^ 0x01])
    expect_rejection(channel, bad_signature, "NOT_A_MEMBER", "does not verify")

    expect_rejection(channel, der[:-10], "BAD_CERTIFICATE", "unreadable certificate")
    expect_rejection(channel, b"garbage", "BAD_CERTIFICATE")
    expect_rejection(channel, "not bytes", "BAD_CERTIFICATE")  # type: ignore[arg-type]


def test_membership_rejects_expired_certificates(org1: CertificateAuthority, channel: Membership) -> None:
    start = datetime(2026, 12, 22, tzinfo=UTC)
    der = org1.issue("bob", Kind.CLIENT, valid_days=10, not_before=start).certificate_der
    end_ms = timestamp_ms(datetime(2027, 1, 1, tzinfo=UTC))
    assert channel.validate(der, at_ms=end_ms).not_after_ms == end_ms  # the last moment is included
    message = expect_rejection(channel, der, "NOT_A_MEMBER", at_ms=end_ms + 1)
    assert message == "certificate 'bob' of Org1 expired at 2027-01-01T00:00:00Z"


def test_membership_rejects_certificates_not_yet_valid(org1: CertificateAuthority, channel: Membership) -> None:
    start = NOW + timedelta(days=3)
    der = org1.issue("carol", Kind.CLIENT, not_before=start).certificate_der
    expect_rejection(
        channel,
        der,
        "NOT_A_MEMBER",
        f"certificate 'carol' of Org1 is not valid until {start:%Y-%m-%dT%H:%M:%SZ}",
    )
    assert channel.validate(der, at_ms=timestamp_ms(start)).name == "carol"


def test_membership_rejects_the_wrong_kind(org1: CertificateAuthority, channel: Membership) -> None:
    der = org1.issue("alice", Kind.CLIENT).certificate_der
    expect_rejection(
        channel,
        der,
        "NOT_A_MEMBER",
        "'alice' of Org1 is of kind client, not one of: orderer, peer",
        kinds=[Kind.PEER, Kind.ORDERER],
    )
    assert channel.validate(der, at_ms=NOW_MS, kinds=["client"]).kind is Kind.CLIENT


def test_membership_rejects_ca_certificates_as_identities(org1: CertificateAuthority, channel: Membership) -> None:
    expect_rejection(channel, org1.certificate_der, "BAD_CERTIFICATE", "no OU")
    key = Ed25519PrivateKey.generate()
    issuer = x509.load_pem_x509_certificate(org1.certificate_pem).subject
    sub_ca = handmade_certificate(
        name_of("Org1", "admin", "sub"), issuer, ca_private_key(org1), key.public_key(), ca=True
    )
    expect_rejection(channel, sub_ca, "NOT_A_MEMBER", "CA certificate")


def test_membership_error_pickles() -> None:
    error = pickle.loads(pickle.dumps(MembershipError("NOT_A_MEMBER", "certificate 'a' of Org1 expired")))
    assert (error.code, error.message, str(error)) == (
        "NOT_A_MEMBER",
        "certificate 'a' of Org1 expired",
        error.message,
    )


def test_membership_refuses_bad_ca_certificates(org1: CertificateAuthority) -> None:
    with pytest.raises(CertificateError, match="names organisation"):
        Membership({"Org2": org1.certificate_pem})
    with pytest.raises(CertificateError, match="CA:TRUE"):
        Membership({"Org1": org1.issue("alice", Kind.CLIENT).certificate_der})
    with pytest.raises(CertificateError, match="CA certificate of Org1"):
        Membership({"Org1": b"garbage"})


def test_cache_hit_returns_the_same_cert_info(org1: CertificateAuthority) -> None:
    membership = Membership({"Org1": org1.certificate_pem})
    der = org1.issue("alice", Kind.CLIENT).certificate_der
    first = membership.validate(der, at_ms=NOW_MS)
    assert membership.validate(bytes(der), at_ms=NOW_MS) is first
    # Validity and kind are checked on every call, cached or not.
    with pytest.raises(MembershipError, match="expired"):
        membership.validate(der, at_ms=first.not_after_ms + 1)
    with pytest.raises(MembershipError, match="kind"):
        membership.validate(der, at_ms=NOW_MS, kinds={Kind.PEER})
    assert membership.validate(der, at_ms=NOW_MS) is first


def test_cache_is_bounded(org1: CertificateAuthority) -> None:
    membership = Membership({"Org1": org1.certificate_pem}, cache_size=2)
    certificates = [org1.issue(f"user{index}", Kind.CLIENT).certificate_der for index in range(5)]
    for der in certificates:
        membership.validate(der, at_ms=NOW_MS)
    assert len(membership._verified) == 2
    # Evicted certificates are simply verified again.
    assert membership.validate(certificates[0], at_ms=NOW_MS).name == "user0"


def test_concurrent_validation_agrees(org1: CertificateAuthority) -> None:
    membership = Membership({"Org1": org1.certificate_pem})
    certificates = [org1.issue(f"user{index}", Kind.CLIENT).certificate_der for index in range(4)]
    results: list[list[CertInfo]] = []

    def work() -> None:
        results.append([membership.validate(der, at_ms=NOW_MS) for der in certificates * 50])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    for per_thread in results:
        for index, info in enumerate(per_thread):
            assert info is results[0][index % 4]


# Time


def test_timestamps() -> None:
    assert timestamp_ms(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert timestamp_ms(datetime(2027, 1, 1, 9, tzinfo=UTC) + timedelta(microseconds=1500)) == 1_798_794_000_001
    assert format_timestamp_ms(1_798_761_600_000) == "2027-01-01T00:00:00Z"
    assert format_timestamp_ms(1_798_761_600_250) == "2027-01-01T00:00:00.250Z"
    with pytest.raises(ValueError, match="time zone"):
        timestamp_ms(datetime(2027, 1, 1))


# Revocation lists


def test_revocation_list_is_accepted_and_revokes(org1: CertificateAuthority) -> None:
    stolen = org1.issue("stolen", Kind.CLIENT)
    honest = org1.issue("honest", Kind.CLIENT)
    crl = org1.revocation_list([stolen.certificate_der], now=NOW)
    membership = Membership({"Org1": org1.certificate_pem}, revocation_lists={"Org1": [crl]})
    message = expect_rejection(membership, stolen.certificate_der, MembershipError.REVOKED_CERTIFICATE, "stolen")
    assert f"{stolen_serial(stolen):x}" in message
    assert membership.validate(honest.certificate_der, at_ms=NOW_MS).name == "honest"
    assert membership.is_revoked("Org1", stolen_serial(stolen))
    # The list is a DER CRL that openssl-compatible tooling reads: issuer, number, signature.
    parsed = x509.load_der_x509_crl(crl)
    assert parsed.issuer == org1.certificate.subject
    assert parsed.is_signature_valid(org1.certificate.public_key())
    assert parsed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1


def stolen_serial(identity: object) -> int:
    return parse_certificate(identity.certificate_der).serial  # type: ignore[attr-defined]


def test_revocation_list_accumulates_and_numbers_up(org1: CertificateAuthority) -> None:
    first, second = org1.issue("first", Kind.CLIENT), org1.issue("second", Kind.PEER)
    earlier = NOW - timedelta(days=2)
    crl1 = org1.revocation_list([stolen_serial(first)], now=earlier)
    crl2 = org1.revocation_list([second.certificate_der, stolen_serial(first)], previous=crl1, now=NOW)
    info = describe_revocation_list(crl2)
    assert info.number == 2
    assert info.serials == {stolen_serial(first), stolen_serial(second)}
    # Revoking again does not move the date a certificate stopped being trusted.
    dates = {entry.serial: entry.revoked_at for entry in info.entries}
    assert dates[stolen_serial(first)] == earlier
    assert dates[stolen_serial(second)] == NOW
    membership = Membership({"Org1": org1.certificate_pem}, revocation_lists={"Org1": [crl2]})
    for identity in (first, second):
        expect_rejection(membership, identity.certificate_der, MembershipError.REVOKED_CERTIFICATE)


def test_revocation_list_of_another_org_is_refused(org1: CertificateAuthority, org2: CertificateAuthority) -> None:
    victim = org1.issue("victim", Kind.CLIENT)
    # Org2's CA cannot revoke Org1's members: neither by certificate nor by carrying a list for Org1.
    with pytest.raises(CertificateError, match="not Org2's"):
        org2.revocation_list([victim.certificate_der])
    forged = org2.revocation_list([stolen_serial(victim)])
    with pytest.raises(CertificateError, match="not signed by a CA of Org1"):
        Membership({"Org1": org1.certificate_pem, "Org2": org2.certificate_pem}, revocation_lists={"Org1": [forged]})
    # Nor can a list of Org2's be continued by Org1's CA.
    with pytest.raises(CertificateError, match="not signed by this CA of Org1"):
        org1.revocation_list([], previous=forged)


def test_tampered_revocation_list_is_refused(org1: CertificateAuthority) -> None:
    victim = org1.issue("victim", Kind.CLIENT)
    crl = bytearray(org1.revocation_list([victim.certificate_der]))
    serial_bytes = stolen_serial(victim).to_bytes(20, "big").lstrip(b"\0")
    at = bytes(crl).index(serial_bytes)
    crl[at + len(serial_bytes) - 1] ^= 0x01  # revoke somebody else instead
    with pytest.raises(CertificateError, match="not signed by a CA of Org1"):
        Membership({"Org1": org1.certificate_pem}, revocation_lists={"Org1": [bytes(crl)]})
    with pytest.raises(CertificateError, match=r"not an X\.509"):
        Membership({"Org1": org1.certificate_pem}, revocation_lists={"Org1": [b"garbage"]})


@pytest.mark.parametrize(
    ("revoked", "complaint"),
    [
        ([0], "positive"),
        ([True], "not True"),
        ([1.5], "not float"),
        (b"\x30\x00", "single value"),
        ([b"junk"], "not an X.509"),
    ],
)
def test_revocation_list_refuses_bad_input(org1: CertificateAuthority, revoked: object, complaint: str) -> None:
    with pytest.raises(CertificateError, match=complaint):
        org1.revocation_list(revoked)  # type: ignore[arg-type]
    with pytest.raises(CertificateError, match=r"not an X\.509 revocation list"):
        org1.revocation_list([], previous=b"not a list")


def test_revocation_list_readable_by_openssl(org1: CertificateAuthority, tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    victim = org1.issue("victim", Kind.CLIENT)
    (tmp_path / "crl.der").write_bytes(org1.revocation_list([victim.certificate_der]))
    (tmp_path / "ca.pem").write_bytes(org1.certificate_pem)
    result = subprocess.run(
        [
            openssl,
            "crl",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "crl.der"),
            "-CAfile",
            str(tmp_path / "ca.pem"),
            "-noout",
            "-text",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stderr + result.stdout
    assert f"{stolen_serial(victim):X}"[-8:] in result.stdout.replace(":", "").upper()


def test_revocation_list_carries_on_across_a_ca_rotation(
    org1: CertificateAuthority, org2: CertificateAuthority
) -> None:
    old_holder = org1.issue("old-holder", Kind.CLIENT)
    first = org1.revocation_list([old_holder.certificate_der], now=NOW)
    rotated = CertificateAuthority.create("Org1")
    new_holder = rotated.issue("new-holder", Kind.CLIENT)
    # Without saying who signed the previous list, the new CA refuses to carry it on.
    with pytest.raises(CertificateError, match="not signed by this CA of Org1"):
        rotated.revocation_list([new_holder.certificate_der], first)
    assert signer_of(first, [rotated.certificate_pem, org1.certificate_pem]) == org1.certificate_pem
    assert signer_of(first, [rotated.certificate_pem, b"junk"]) is None
    carried = rotated.revocation_list([new_holder.certificate_der], first, previous_signer=org1.certificate_pem)
    info = describe_revocation_list(carried)
    assert info.number == 2 and info.serials == {stolen_serial(old_holder), stolen_serial(new_holder)}
    both = Membership({"Org1": (org1.certificate_pem, rotated.certificate_pem)}, revocation_lists={"Org1": [carried]})
    for holder in (old_holder, new_holder):
        expect_rejection(both, holder.certificate_der, MembershipError.REVOKED_CERTIFICATE)
    # Another organisation's CA is no signer of Org1's lists.
    with pytest.raises(CertificateError, match="CA certificate of Org1"):
        rotated.revocation_list([], first, previous_signer=org2.certificate_pem)
    with pytest.raises(CertificateError, match="not signed by the given previous signer"):
        rotated.revocation_list([], first, previous_signer=CertificateAuthority.create("Org1").certificate_pem)
