"""The pure core: no network, disk, database, environment or clock.

Everything here is deterministic given its inputs; time and randomness are injected.
"""
