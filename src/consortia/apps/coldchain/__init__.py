"""Cold chain: traceability of chilled seafood from the boat to the shop, on a permissioned ledger.

A fish market, a processor, a logistics operator, a retailer and an inspection agency record the GS1 EPCIS 2.0
events of each lot (landing, cooling, shipping, transformation, packing, sale) on one channel; temperature
loggers report over MQTT, and their readings are anchored in batches so an alarm or a consumer's page can be
proved against the ledger. Commercial details travel as private data, never in the clear on the channel.

Where to start reading: :mod:`.consortium` (who is on the channel), :mod:`.contract.contract` (what the ledger
accepts), :mod:`.domain` (the GS1/EPCIS rules both sides apply), :mod:`.service` (capture, ingestion, anchoring,
proofs), :mod:`.web` (EPCIS REST, consumer pages, dashboard), :mod:`.cli` and :mod:`.demo` (the Busan scenario).
Imports run ``contract → domain``, ``service → contract, domain``, ``web → service, domain``; ``cli`` and ``demo``
sit on top (see ``apps/README.md``).
"""
