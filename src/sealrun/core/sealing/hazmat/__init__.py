"""Hazardous materials: the raw pieces of the age v1 format.

Use :mod:`sealrun.core.sealing` (the recipe layer) instead. These modules build and parse
bytes without deciding anything: a function here that returns a file key has not checked the
header MAC, and a chunk cipher does not know which chunk must be the last. Misused, they
yield unauthenticated plaintext.

- :mod:`.bech32` — key encodings (``age1…``, ``AGE-SECRET-KEY-1…``)
- :mod:`.header` — header grammar (stanzas, footer, canonical base64)
- :mod:`.x25519` — the X25519 stanza, HKDF, the header MAC
- :mod:`.stream` — the STREAM chunk cipher
"""
