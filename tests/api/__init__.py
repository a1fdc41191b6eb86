"""Whole-app tests: the platform driven over HTTP, as its clients drive it."""
