"""Crypto-exchange accounts at a US bank: due diligence, account policy, transaction monitoring, cases and filings.

A US bank opens USD-only, US-only cash-management accounts for registered crypto exchanges (money services
businesses). The Bank Secrecy Act obliges it to monitor those accounts for suspicious activity, file Currency
Transaction Reports (CTR, 31 CFR 1010.311) and Suspicious Activity Reports (SAR) with FinCEN, and keep a trail an
examiner can verify. Consortia's part is the onboarding record, the monitoring engine, the case workflow, the
filings and an immutable ledger trail (issue 13).

Where to start reading, in the layout every application shares (``apps/README.md``):

- ``domain/`` — the rules, pure (no I/O, no SDK, no clock):
  :mod:`.domain.transactions` (the shared ``Transaction``, ``Alert`` and ``RuleHit`` types),
  :mod:`.domain.monitoring` (the rules from ``rules.toml``, the batch engine in polars, the streaming engine, the
  typologies built from weighted rule hits and from graph structures over time),
  :mod:`.domain.generator` (labelled synthetic data: AMLSim's typologies plus structuring amid realistic normal
  behaviour), :mod:`.domain.evaluation` (recall and precision per typology at the account level);
  US business days, the account policy, cases, onboarding and the SAR/CTR filings sit beside them.
- ``rules.toml`` — every threshold with its legal or industry source.
- :mod:`.cli` — ``consortia aml scan | evaluate | bench``.
"""
