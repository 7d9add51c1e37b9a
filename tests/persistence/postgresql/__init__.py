"""Tests of what only the PostgreSQL store does (its conformance is in ../conformance)."""
