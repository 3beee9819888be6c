"""
Endorsement Policies
^^^^^^^^^^^^^^^^^^^^

An endorsement policy names the signatures a transaction needs before peers will commit it, in the
signature-policy language of Hyperledger Fabric::

    OutOf(2, 'Org1.peer', 'Org2.peer', 'Org3.peer')
    AND('Regulator.admin', OR('BankA.peer', 'BankB.peer'))

The package is split by concept:

- :mod:`.tree` -- the immutable policy tree (:class:`Principal`, :class:`SignedBy`,
  :class:`OutOf`) and its canonical text, :func:`format_policy`;
- :mod:`.parser` -- reading policy text, :func:`parse_policy`, with precise error messages;
- :mod:`.evaluate` -- deciding whether a set of :class:`Signer` satisfies a policy;
- :mod:`.endorsers` -- which organisations a client should ask for endorsements.
"""

from .endorsers import minimal_org_sets
from .evaluate import SIGNER_KINDS, Signer, satisfied
from .parser import PolicySyntaxError, parse_policy, parse_policy_cached
from .tree import ROLES, OutOf, Policy, Principal, SignedBy, format_policy, majority_policy, policy_orgs

__all__ = [
    "ROLES",
    "SIGNER_KINDS",
    "OutOf",
    "Policy",
    "PolicySyntaxError",
    "Principal",
    "SignedBy",
    "Signer",
    "format_policy",
    "majority_policy",
    "minimal_org_sets",
    "parse_policy",
    "parse_policy_cached",
    "policy_orgs",
    "satisfied",
]
