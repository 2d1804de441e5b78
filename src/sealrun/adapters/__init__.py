"""I/O behind small interfaces: chain, storage, database, HTTP clients, TEE backends, sandbox."""
