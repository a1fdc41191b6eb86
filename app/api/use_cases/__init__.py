"""The use cases' LangServe routes: mounted from the registry, runs metered as one request."""
