"""A clustered network on one machine, for development and tests: etcd members, orderers and peers as processes.

``consortia cluster up`` bootstraps the network, writes one configuration file per node, starts a three-member
etcd cluster and every node, and commits a contract; ``status`` shows each process, ``compare`` checks that all
nodes hold the same ledger, ``down`` stops them. :class:`~consortia.cluster.control.Cluster` does the same from
Python (the tests and ``consortia bench --cluster`` use it).
"""

from consortia.cluster.control import Cluster, ClusterError
from consortia.cluster.layout import ClusterLayout, create_cluster

__all__ = ["Cluster", "ClusterError", "ClusterLayout", "create_cluster"]
