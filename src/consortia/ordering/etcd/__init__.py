"""Ordering replicated by etcd: crash-tolerant ordering without a consensus protocol of our own.

etcd is a key-value store replicated by Raft: a write is acknowledged once a majority of its members (2 of 3)
have it on disk, and every member applies writes in the same order. So a cluster of three etcd members survives
the loss of any one, and gives the ordering service what it needs — a linearizable log, compare-and-swap, and
leases that expire when their holder dies — without Consortia implementing consensus itself.

* :mod:`~consortia.ordering.etcd.client` speaks etcd's v3 API through the JSON gateway of its members;
* :mod:`~consortia.ordering.etcd.election` elects one orderer as leader with a lease-bound key;
* :mod:`~consortia.ordering.etcd.orderer` is the ordering service: the leader writes block *n* with a
  compare-and-swap on *n*, every orderer mirrors the blocks into its own block store, peers pull from there.
"""

from consortia.ordering.etcd.client import EtcdClient, EtcdError, EtcdUnavailable
from consortia.ordering.etcd.election import Election, Leadership, Session
from consortia.ordering.etcd.layout import MAX_BLOCK_BYTES, Keys
from consortia.ordering.etcd.orderer import ORDERING_KIND, Ack, EtcdOrderer

__all__ = [
    "MAX_BLOCK_BYTES",
    "ORDERING_KIND",
    "Ack",
    "Election",
    "EtcdClient",
    "EtcdError",
    "EtcdOrderer",
    "EtcdUnavailable",
    "Keys",
    "Leadership",
    "Session",
]
