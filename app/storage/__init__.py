"""Durable state through SQLAlchemy: SQLite by default, PostgreSQL by URL."""
