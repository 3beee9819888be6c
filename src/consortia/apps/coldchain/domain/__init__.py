"""The rules and standards, pure (no I/O through the SDK, no network): what the contract and the services both apply.

* GS1 identifiers and Digital Links (:mod:`.gs1`), the CBV vocabulary (:mod:`.vocab`), EPCIS timestamps
  (:mod:`.timestamps`);
* an EPCIS event read into facts (:mod:`.facts`), its CBV 2.0 event hash (:mod:`.eventhash`), its FSMA 204
  critical tracking event (:mod:`.cte`), a whole document checked (:mod:`.document`, :mod:`.schema`);
* the public commitments of private data (:mod:`.commitment`) and the leaves of reading batches (:mod:`.batches`);
* logger readings (:mod:`.readings`), species limits (:mod:`.species`) and the temperature rules (:mod:`.rules`).

Modules here import nothing of the application but each other.
"""
