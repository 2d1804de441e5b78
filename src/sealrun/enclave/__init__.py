"""The trusted code that runs inside the enclave: pre-compute and post-compute."""
