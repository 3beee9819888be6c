"""Consortia: a permissioned blockchain platform (execute–order–validate) and its consortium applications."""

__version__ = "0.1.0"
