"""Off the ledger: the work done through the client SDK.

* capturing EPCIS documents (:mod:`.capture`) and exporting FSMA 204 tables (:mod:`.fsma204`);
* the sensor pipeline: MQTT broker (:mod:`.broker`), ingestion (:mod:`.ingest`), device associations
  (:mod:`.devices`), the local store (:mod:`.store`), anchoring batches on the ledger (:mod:`.anchoring`),
  alarms (:mod:`.alarms`);
* reading back: a lot's temperature history (:mod:`.history`), its journey (:mod:`.journey`) and the proofs a
  consumer checks (:mod:`.proofs`);
* the ingestion benchmark (:mod:`.bench`).

Modules here import :mod:`..contract` and :mod:`..domain`, never :mod:`..web` or :mod:`..demo`.
"""
