"""Schemathesis against the published OpenAPI: no input makes the SMS fail with a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from sealrun.core.attestation import SimulatorKey
from sealrun.services.sms.app import create_app
from sealrun.testing.chainstate import InMemoryChainReader
from tests.sms.conftest import Clock, World, make_settings


@pytest.fixture
def api_schema(tmp_path_factory: pytest.TempPathFactory, simulator: SimulatorKey) -> Any:
    world = World(chain=InMemoryChainReader(), clock=Clock(), simulator=simulator)
    folder: Path = tmp_path_factory.mktemp("fuzz")
    app = create_app(make_settings(folder, simulator), chain=world.chain, clock=world.clock)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_causes_a_server_error(case: Any) -> None:
    case.call_and_validate(checks=[not_a_server_error])
