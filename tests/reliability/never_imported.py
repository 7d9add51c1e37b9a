"""Importing this module fails the security test: the database named it as code."""

raise AssertionError("the runtime imported a module named by the database")
