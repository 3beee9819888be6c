"""
Identity Kinds
^^^^^^^^^^^^^^

.. contents:: Table of Contents
    :backlinks: none
    :local:

Introduction
------------

Every certificate issued by an organisation's certificate authority says what
*kind* of participant it identifies, in the Organizational Unit (OU) of its
subject, as Hyperledger Fabric's "node OUs" do:

- an ``admin`` administers the organisation (channel configuration, chaincode
  life cycle);
- a ``peer`` keeps the ledger, endorses and validates transactions;
- an ``orderer`` orders transactions into blocks;
- a ``client`` submits transactions on behalf of a person or an application.

Policies name kinds ("a peer of Org1", "an admin of a majority of the
organisations"), so the kind is part of the identity the CA vouches for, not
something a participant can claim for itself.
"""

from enum import StrEnum


class Kind(StrEnum):
    """The role a certificate's holder plays in the network."""

    ADMIN = "admin"
    PEER = "peer"
    ORDERER = "orderer"
    CLIENT = "client"


def parse_kind(value: "Kind | str") -> Kind:
    """Return the kind named by `value`, or raise `ValueError` naming the kinds there are."""
    try:
        return Kind(value)
    except ValueError:
        expected = ", ".join(kind.value for kind in Kind)
        raise ValueError(f"unknown identity kind {value!r}: expected one of {expected}") from None
