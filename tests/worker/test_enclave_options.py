"""The worker hands its fetch policy to every enclave: its named http origins, its input cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealrun.enclave.__main__ import _parser, _runtime_settings
from sealrun.errors import ConfigError
from sealrun.services.worker.app import enclave_options
from sealrun.services.worker.settings import WorkerSettings


def _settings(tmp_path: Path, **extra: object) -> WorkerSettings:
    return WorkerSettings(key="0x" + "11" * 32, work_dir=tmp_path, hub="0x" + "00" * 20, **extra)  # type: ignore[arg-type]


def test_origins_and_cap_reach_the_enclaves_fetch_policy(tmp_path: Path) -> None:
    settings = _settings(tmp_path, input_http_origins=["http://127.0.0.1:8701"], max_input_bytes=5 << 20)
    options = enclave_options(settings)
    assert options == ("--allow-http-origin", "http://127.0.0.1:8701", "--max-input-bytes", str(5 << 20))
    args = _parser().parse_args(["run", "--bundle", "b", "--work", "w", "--simulator-key", "k", *options])
    policy = _runtime_settings(args).fetch
    assert policy.allowed_http_origins == frozenset({"http://127.0.0.1:8701"})
    assert policy.max_total_bytes == 5 << 20


def test_by_default_no_plain_http_origin_is_allowed(tmp_path: Path) -> None:
    assert enclave_options(_settings(tmp_path)) == ()
    args = _parser().parse_args(["run", "--bundle", "b", "--work", "w", "--simulator-key", "k"])
    assert _runtime_settings(args).fetch.allowed_http_origins == frozenset()


@pytest.mark.parametrize("origin", ["file:///etc", "http://127.0.0.1:8701/path", "not a url"])
def test_a_bad_origin_is_refused_at_start(tmp_path: Path, origin: str) -> None:
    with pytest.raises(ConfigError) as caught:
        enclave_options(_settings(tmp_path, input_http_origins=[origin]))
    assert caught.value.code == "FETCH_POLICY_INVALID"
