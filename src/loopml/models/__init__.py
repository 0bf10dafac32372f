"""Model packages: a manifest with signature, versions and hashes beside the serialized model.

See ``docs/architecture.md`` ("Model packages") for the format.
"""
