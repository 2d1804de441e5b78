"""Fixtures of the contract tests: one marketplace per module, each test in an anchor."""

from __future__ import annotations

from collections.abc import Iterator

import boa
import pytest

from tests.contracts.market import Market, deploy_market


@pytest.fixture(scope="module")
def market_module() -> Iterator[Market]:
    with boa.env.anchor():
        yield deploy_market()


@pytest.fixture
def market(market_module: Market) -> Iterator[Market]:
    """The module's marketplace; every change a test makes is rolled back after it."""
    with boa.env.anchor():
        yield market_module
