"""The peer: endorsement, validation, commit, private data and events."""
