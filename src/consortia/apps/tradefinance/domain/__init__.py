"""The rules of trade-finance documents, pure (no I/O, no SDK, no clock): what the contract and the service share.

* who trades: legal identifiers of Mainland, Hong Kong and Macau enterprises (:mod:`.identifiers`);
* how a field written a dozen ways becomes one value: Unicode NFKC, dates, amounts, currencies, document
  numbers (:mod:`.normalise`);
* what a trade document is and the registry's statuses (:mod:`.documents`), read from the CSV banks upload
  (:mod:`.csvrows`);
* the keyed fingerprints a document is registered under, the coarse keyed buckets that find near duplicates
  without content, and the keyed keys that tell alike numbers (:mod:`.fingerprint`);
* whether two documents are the same one, or suspiciously alike, and grouping a whole batch (:mod:`.similarity`);
* a deterministic synthetic batch with planted duplicates and look-alikes, for tests, the demo and the bench
  (:mod:`.synthetic`).

Modules here import nothing of the application but each other.
"""
