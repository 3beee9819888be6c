"""Off the ledger: the AML service facade the pages and commands use (:mod:`.aml`), over the contract via the SDK."""
