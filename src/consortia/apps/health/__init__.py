"""Chronic-disease care for Gangwon province: consented glucose and blood-pressure records on a consortium ledger.

Patients with chronic cardio-cerebrovascular disease who cannot easily visit a hospital send blood-pressure and
glucose readings (FHIR R4 Observations) from home. The provincial health office keeps them off the ledger,
encrypted under a per-patient data key (:mod:`.service.crypto`, :mod:`.service.store`); the ``health`` channel
holds what must be shared and trusted — consent in the shape of FHIR R4 Consent (:mod:`.domain.consent`), salted
hashes and pointers of the records, alerts, model registrations and an access log the patient can read and verify
(:mod:`.contract.records`). Everything personal among them travels as transient data and lives in a private data
collection of the custodian and the care organisations: a block carries only hashes of it. Korean PIPA art. 23
asks for separate consent to process health data and EDPB guidelines 02/2025 advise keeping personal data
off-chain; erasing a patient destroys their key and purges private data (crypto-shredding) while the ledger
still verifies.

Where to start reading, in the layout every application shares (``apps/README.md``):

- :mod:`.consortium` — the five organisations, their roles, the endorsement policy and the private collection;
  :mod:`.plugin` — how the platform discovers the application.
- ``contract/`` — :mod:`.contract.records`, the ``HealthRecords`` contract on the ledger (deterministic).
- ``domain/`` — the rules and standards, pure: blood-pressure categories (ACC/AHA 2017, KSH 2018) and glycaemic
  alerts (:mod:`.domain.bp`, :mod:`.domain.glycaemia`, :mod:`.domain.alerts`), CGM metrics
  (:mod:`.domain.cgm`), the Pooled Cohort Equations and the Framingham general-CVD equation (:mod:`.domain.pce`,
  :mod:`.domain.framingham`, :mod:`.domain.risk`), consent rules, LOINC, UCUM units and FHIR parsing.
- ``service/`` — :mod:`.service.health`, the health office's work through the client SDK; the model trained on
  the Framingham teaching cohort (:mod:`.service.training`); the benchmark (:mod:`.service.bench`).
- ``web/`` — :mod:`.web.routes`: FHIR endpoints, the JSON API, the alert stream and the pages for patients and
  care staff.
- :mod:`.cli` — ``consortia health …``; ``demo/`` — the pilot as data (``demo/pilot.json``) and its player.
"""
