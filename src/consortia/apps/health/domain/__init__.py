"""The rules and standards of chronic-disease care, pure: no I/O, no SDK, nothing of the application but this folder.

- Readings and their normalisation: :mod:`.readings` (one measurement), :mod:`.units` (UCUM), :mod:`.loinc`
  (codes and data classes), :mod:`.plausibility` (physiological limits), :mod:`.fhir_import` (FHIR R4
  Observations and Bundles into readings).
- Clinical rules: :mod:`.bp` (ACC/AHA 2017, KSH 2018 categories), :mod:`.glycaemia` (ADA hypo/hyperglycaemia
  levels), :mod:`.alerts` (which readings raise an alert), :mod:`.cgm` (CGM metrics).
- Risk: :mod:`.riskfactors` (validated inputs), :mod:`.pce` (Pooled Cohort Equations), :mod:`.framingham`
  (Framingham 2008 general CVD), :mod:`.risk` (choose and run an equation), :mod:`.scoring` (a patient's score
  from their profile and home readings, by the equations and a trained model handed in by the service).
- Consent: :mod:`.consent` (FHIR R4 Consent documents and the rule that decides who may read what) — the same rule
  the contract applies on the ledger and the service applies off it.
- :mod:`.i18n`: the pages' Korean and English strings.
"""
