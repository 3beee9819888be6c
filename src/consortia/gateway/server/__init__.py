"""The gateway service: REST API, live events, metrics and explorer pages over a network."""
