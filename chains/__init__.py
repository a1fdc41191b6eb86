"""Use cases: one module per use case, each exporting `USE_CASE`; see chains/registry.py."""
