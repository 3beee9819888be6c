"""The consortium applications built on the platform: each its own package (see consortia.plugins, README.md)."""
