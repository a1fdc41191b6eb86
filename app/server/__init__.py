"""The server process: uvicorn's guarded transport, graceful shutdown, the GC tuned for serving."""
