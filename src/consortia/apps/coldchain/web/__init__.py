"""The routes and pages, over :mod:`..service`: :mod:`.app` mounts them on the gateway.

* the EPCIS 2.0 REST binding (:mod:`.rest`) under ``/epcis``;
* the public consumer pages behind GS1 Digital Links (:mod:`.consumer`, QR codes in :mod:`.qrcode`);
* the operators' dashboard and its live feed (:mod:`.dashboard`);
* who is calling and who signs (:mod:`.access`, over the platform's ``caller_of`` and ``acting_identity``);
* what people read: every string from one catalogue in Korean and English (:mod:`.catalogue`), times in Busan's
  zone, codes and places by name (:mod:`.present`), and error pages for people, problem details for programs
  (:mod:`.errors`).

Pages in ``templates/``, scripts and styles in ``static/``.
"""
