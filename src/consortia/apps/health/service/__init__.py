"""Off the ledger: the health office's work through the client SDK.

Start with :mod:`.health` (:class:`~.health.HealthService`: enrol, consent, ingest and anchor readings, alerts,
models, scores, erasure — each submitted with the acting person's own identity, or with the service's recorded
delegation where the health office stores a patient's readings). Around it: :mod:`.crypto` (envelope encryption,
crypto-shredding), :mod:`.keyring` (the organisations' key-encryption keys), :mod:`.store` (the encrypted record
store), :mod:`.dataset` and :mod:`.training` (the Framingham teaching cohort and the trained CHD model),
:mod:`.model_card` and :mod:`.bench` (the ingestion benchmark). A patient's score from their records and a loaded
model is pure: :mod:`..domain.scoring`.
"""
