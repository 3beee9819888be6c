"""The gateway service: the REST API, the explorer pages and the in-browser verifier, in front of a network.

It sits above :mod:`consortia.network` and serves people (pages, sessions) and programs (signed requests). The
client SDK it uses — and that programs use — is :mod:`consortia.client`.
"""
