"""Chronic-disease care for Gangwon province: consented glucose and blood-pressure records on a consortium ledger.

Patients with chronic cardio-cerebrovascular disease who cannot easily visit a hospital send blood-pressure and
glucose readings (FHIR R4 Observations) from home. The provincial health office keeps them off the ledger,
encrypted under a per-patient data key (:mod:`.crypto`, :mod:`.store`); the ``health`` channel holds what
must be shared and trusted — consent in the shape of FHIR R4 Consent (:mod:`.consent`), salted hashes and
pointers of the records, alerts, model registrations and an access log the patient can read and verify
(:mod:`.contract`). Everything personal among them travels as transient data and lives in a private data
collection of the custodian and the care organisations: a block carries only hashes of it. Korean PIPA art. 23
asks for separate consent to process health data and EDPB guidelines 02/2025 advise keeping personal data
off-chain; erasing a patient destroys their key and purges private data (crypto-shredding) while the ledger
still verifies.

On top: blood-pressure categories (ACC/AHA 2017, KSH 2018) and glycaemic alerts (:mod:`.bp`,
:mod:`.glycaemia`, :mod:`.alerts`), CGM metrics (:mod:`.cgm`), the Pooled Cohort Equations and the Framingham
general-CVD equation (:mod:`.pce`, :mod:`.framingham`, :mod:`.risk`), a model trained on the Framingham
teaching cohort (:mod:`.training`), pages for patients and care staff (:mod:`.web`), a demo and a benchmark.
"""
