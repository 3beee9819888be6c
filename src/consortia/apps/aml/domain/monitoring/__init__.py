"""Transaction monitoring: rules from ``rules.toml``, a batch engine and a streaming engine, typologies, alerts.

Read in this order:

- :mod:`.config` — ``rules.toml`` into frozen dataclasses (every threshold with its source; a bad key is named);
- :mod:`.business_days` — business days as consecutive numbers (over :mod:`..calendar`);
- :mod:`.frame` — transactions as a polars table and the facts every rule reads (processing order, business
  day, cash, new and fresh relationships);
- :mod:`.windows` — causal sliding windows as binary searches; :mod:`.cycles` — the time-respecting cycle search;
- :mod:`.batch` — every rule over a whole table (polars, numpy); :mod:`.streaming` — the same rules one
  transaction at a time (the reference the batch is tested against);
- :mod:`.typologies` — rule hits into alerts: weighted rules per account (Tazama) and groups of accounts active
  together in the graph over time (networkx);
- :mod:`.engine` — one call to scan a table; :mod:`.formats` — reading AMLSim and native CSV, with errors that
  name the row and column.
"""
