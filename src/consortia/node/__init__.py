"""Nodes: one peer or orderer per process, configured by a file, talking signed HTTP to each other.

The embedded network runs every organisation in one process; a consortium does not. Here each organisation runs
its own peer process (:mod:`~consortia.node.peer_node`) and the ordering service is several orderer processes
(:mod:`~consortia.node.orderer_node`) replicated through etcd. :mod:`~consortia.node.config` reads a node's TOML
file, :mod:`~consortia.node.transport` carries signed MessagePack over HTTP, and :mod:`~consortia.node.remote`
lets the client SDK use a cluster exactly as it uses the embedded network.
"""
