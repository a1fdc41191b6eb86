"""Rate limits, concurrency and budgets, enforced at admission and reconciled at completion."""
