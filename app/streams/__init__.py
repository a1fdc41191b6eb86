"""Streams that outlive their connection: kept event by event, resumable from any replica."""
