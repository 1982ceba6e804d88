"""Serving: a read-only HTTP API and a dashboard over the gold tables, without a JVM."""
