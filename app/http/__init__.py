"""The HTTP edge: ASGI middleware, JSON bodies, OpenAPI documentation and per-request state."""
