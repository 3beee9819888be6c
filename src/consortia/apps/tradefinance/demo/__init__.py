"""The trade-finance demo: the scenario as data (:mod:`.scenario`) and the small player that submits it
(:mod:`.seed`)."""
