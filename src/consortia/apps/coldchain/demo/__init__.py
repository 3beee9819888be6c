"""The demo: the Busan scenario as data, and the code that plays it.

* ``busan.toml``: the trip — sites, products, and the steps (landing, cooling, the excursion and its inspection,
  shipments, transformation, packing, sale) at hours relative to the start;
* :mod:`.scenario`: reads the data into EPCIS documents and logger stages, and records them;
* :mod:`.simulate`: the loggers' temperature traces, published over MQTT;
* :mod:`.seed`: the cold chain's part of ``consortia demo``.
"""
