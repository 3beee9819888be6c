"""Channels: the rules a channel's configuration block sets (membership, block signers, lifecycle policy)."""
