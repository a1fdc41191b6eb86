"""The OpenAI-compatible wrapper API under /v1: protocol, serving logic, routes."""
