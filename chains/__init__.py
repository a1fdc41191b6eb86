"""Use cases: one module per use case, each exporting `USE_CASE`.

app/use_cases/registry.py finds them at startup; they import the platform through its kit,
`app.use_cases`, alone.
"""
