"""
Identity
^^^^^^^^

.. contents:: Table of Contents
    :backlinks: none
    :local:

Introduction
------------

Who may do what in a permissioned blockchain. Each organisation of the
consortium runs a certificate authority (:class:`CertificateAuthority`) that
issues X.509 certificates over Ed25519 keys to its admins, peers, orderers and
clients (:class:`Kind`), optionally with application attributes such as
``{"role": "regulator"}``. A participant signs with its
:class:`SigningIdentity`; anyone checks a signature with
:func:`verify_signature` and the public key of the signer's certificate; and a
channel's :class:`Membership` decides whether a certificate identifies one of
the channel's members, returning what it says as a :class:`CertInfo`.
"""

from consortia.identity.ca import CertificateAuthority
from consortia.identity.certificate import (
    ATTRIBUTES_OID,
    Attributes,
    CertificateError,
    CertInfo,
    format_timestamp_ms,
    parse_certificate,
    timestamp_ms,
)
from consortia.identity.kinds import Kind, parse_kind
from consortia.identity.membership import Membership, MembershipError, Revocation
from consortia.identity.signing import SIGNATURE_SIZE, SigningIdentity, verify_signature

__all__ = [
    "ATTRIBUTES_OID",
    "SIGNATURE_SIZE",
    "Attributes",
    "CertInfo",
    "CertificateAuthority",
    "CertificateError",
    "Kind",
    "Membership",
    "MembershipError",
    "Revocation",
    "SigningIdentity",
    "format_timestamp_ms",
    "parse_certificate",
    "parse_kind",
    "timestamp_ms",
    "verify_signature",
]
