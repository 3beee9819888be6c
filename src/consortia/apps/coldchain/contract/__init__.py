"""On the ledger: the ``ColdChain`` contract (:mod:`.contract`).

Deterministic — no clock, randomness, files or network; it imports only :mod:`consortia.contracts`, the ledger's
encoding and the pure rules of :mod:`consortia.apps.coldchain.domain` (the platform's determinism guard and
package hash cover those modules too). Every refusal is a ``ContractError`` with a code.
"""
