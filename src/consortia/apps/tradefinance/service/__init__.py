"""Off the ledger: the trade-finance service each organisation's software runs around the contract.

Start with :mod:`.tradefinance` (the facade the pages, the command line and the demo use, one per caller); the
fingerprint benchmark is :mod:`.bench`.
"""
