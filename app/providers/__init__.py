"""Model providers: the chat clients behind each model alias, and per-request model choice."""
