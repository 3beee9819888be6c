"""Trade finance: a Greater Bay Area information platform shared by banks and watched by their regulators.

Banks in Shenzhen, Guangzhou, Zhuhai, Hong Kong and Macau finance trade against documents — invoices, bills of
lading, customs declarations, warehouse receipts. The old fraud is to present one document to several banks (or
a forged copy of it, its fields reformatted so nobody notices). Here every member bank registers a *keyed
fingerprint* of each document it is asked to finance: an HMAC-SHA-256, under a consortium key only the banks
hold, of the document's key fields after normalisation (full-width digits, date notations, currency aliases,
leading zeros …). A second bank presenting the same document meets the first bank's fingerprint and gets the
industry's answer (REDU, or DFIN once financed) without ever seeing the document, the other bank or its customer.
Traders are registered with their legal identifiers (Mainland USCC, Hong Kong BR, Macau SO); banks attest KYC;
disbursements and repayments leave a source-of-funds trail the regulators (PBoC, SAFE, HKMA, AMCM) can follow.

Where to start reading: :mod:`.domain` (the pure rules: identifiers, normalisation, documents, fingerprints,
similarity, the CSV format and a synthetic batch generator); then :mod:`.consortium`, :mod:`.contract`,
:mod:`.service`, :mod:`.web`, :mod:`.cli` and :mod:`.demo`. Imports run ``contract → domain``,
``service → contract, domain``, ``web → service, domain``; ``cli`` and ``demo`` sit on top (``apps/README.md``).
"""
