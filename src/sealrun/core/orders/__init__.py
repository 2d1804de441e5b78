"""Orders: iExec PoCo v5 order models, EIP-712 hashing and signing, matching rules."""
