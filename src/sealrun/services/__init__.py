"""Deployable services. They never import each other: they talk over HTTP and the chain."""
