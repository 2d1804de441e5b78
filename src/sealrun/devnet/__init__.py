"""Starts a whole local marketplace on one machine."""
