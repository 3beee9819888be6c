"""The AML application's rules and standards, pure: no I/O, no SDK, no clock.

- :mod:`.transactions` — the shared ``Transaction``, ``RuleHit`` and ``Alert`` values;
- :mod:`.monitoring` — the rules (``rules.toml``), the batch (polars) and streaming engines, typologies;
- :mod:`.generator` and :mod:`.evaluation` — labelled synthetic activity and recall/precision per typology;
- :mod:`.calendar` — US business days and the bank's cut-off; :mod:`.policy` — USD-only, US-only accounts;
- :mod:`.onboarding` — an exchange's due diligence; :mod:`.cases` — alert → case → decision, with deadlines;
- :mod:`.filings` — FinCEN SAR and CTR batch XML, validated against FinCEN's schemas.
"""
