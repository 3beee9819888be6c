"""On the ledger: the ``HealthRecords`` contract (:mod:`.records`), deterministic.

It keeps consent (FHIR R4 Consent, checked with :mod:`..domain.consent`), salted hashes and pointers of the
records, alerts, model registrations and the access log a patient can read. Personal data arrive only as transient
data and live in the ``health-care`` private collection. No clock, randomness, files or network: the platform's
determinism guard runs it, and its package hash covers every module of the application it imports (the domain
rules it applies included). Every refusal is a ``ContractError`` with a code (``FORBIDDEN``, ``NOT_FOUND`` …).
"""
