"""Helpers the tests (and the benchmarks) share: fakes, servers, upstreams, tenants, databases."""
