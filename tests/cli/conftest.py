"""The CLI project fixtures of ``tests/chain/test_cli.py`` (one project, a served chain, funded
wallets per module), shared with the CLI tests here."""

from tests.chain.test_cli import deployed, project  # noqa: F401  (fixtures, found by name)
