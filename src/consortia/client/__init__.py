"""The client side of the platform: the SDK, the remote REST client and request signing."""
