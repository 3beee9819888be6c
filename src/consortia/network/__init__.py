"""Assembling networks: creating organisations and channels, and running them embedded in one process."""
