"""On the ledger: the ``aml`` contract (:mod:`.contract`) and the JSON codecs of what it stores (:mod:`.codec`)."""
