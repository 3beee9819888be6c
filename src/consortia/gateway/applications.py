"""Kept for the applications until they move: the plug-in interface now lives in :mod:`consortia.plugins`."""

from consortia.plugins import GROUP, Application, discover

__all__ = ["GROUP", "Application", "discover"]
