"""Client apps as tenants: their keys, allow-lists, limits and budgets."""
