"""The OpenAI-compatible API under /v1: router (thin), protocol (models), serving (logic)."""
