"""The usage ledger: what each request used, counted exactly, written when it ends."""
