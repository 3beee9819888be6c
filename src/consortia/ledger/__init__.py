"""The ledger: canonical encoding, transactions, blocks, Merkle trees, block store and state database."""
