"""On the ledger: the ``tradefinance`` contract (:mod:`.contract`) and the JSON form its documents travel in
(:mod:`.codec`). Deterministic: no clock but the proposal's, no randomness, no files or network."""
