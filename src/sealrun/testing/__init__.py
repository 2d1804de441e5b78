"""Test doubles and conformance suites for tests (and users) to reuse.

Nothing in production code paths imports this package.
"""
