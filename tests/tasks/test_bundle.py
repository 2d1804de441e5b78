"""The secrets bundle parses what it writes and rejects everything else with a code."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.core.tasks import FailureCode, ReleaseFailure
from sealrun.core.tasks.secretsbundle import DatasetSecret, ResultUpload, SecretsBundle, TaskParams
from sealrun.errors import SecretError

BUNDLE = SecretsBundle(
    task_id="0x" + "11" * 32,
    worker="0x" + "AB" * 20,
    enclave_key="0x" + "22" * 32,
    beneficiary_recipient="age1" + "q" * 58,
    result_upload=ResultUpload(url="http://127.0.0.1:9/results", token="t0k"),
    max_time=300,
    params=TaskParams(args="--fast", input_files=("https://example.org/a.txt",)),
    dataset=DatasetSecret(
        url="file:///d.age",
        checksum="0x" + "33" * 32,
        key="AGE-SECRET-KEY-1" + "Q" * 58,
        address="0x" + "cd" * 20,
        filename="scores 2024.csv",
    ),
    app_developer_secret="dev",
    requester_secrets={1: "first-secret", 2: "second-secret"},
)


def test_round_trip() -> None:
    assert SecretsBundle.from_json(BUNDLE.to_json()) == BUNDLE


def test_secrets_are_not_in_repr() -> None:
    text = repr(BUNDLE)
    assert "22" * 32 not in text
    assert "dev" not in text
    assert "first-secret" not in text


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda d: d.update(version=1), "BUNDLE_VERSION_UNSUPPORTED"),
        (lambda d: d.update(version=2), "BUNDLE_VERSION_UNSUPPORTED"),
        (lambda d: d.update(version=4), "BUNDLE_VERSION_UNSUPPORTED"),
        (lambda d: d.pop("failure"), "BUNDLE_INVALID"),
        (lambda d: d.update(beneficiary_recipient=None), "BUNDLE_INVALID"),
        (lambda d: d.update(requester_secrets={"²": "x"}), "BUNDLE_INVALID"),
        (lambda d: d.update(requester_secrets={"١": "x"}), "BUNDLE_INVALID"),
        (lambda d: d.update(failure={"code": 0, "reason": ""}), "BUNDLE_INVALID"),
        (lambda d: d.update(extra=1), "BUNDLE_INVALID"),
        (lambda d: d.pop("task_id"), "BUNDLE_INVALID"),
        (lambda d: d.update(task_id="0x12"), "BUNDLE_INVALID"),
        (lambda d: d.update(max_time=0), "BUNDLE_INVALID"),
        (lambda d: d.update(max_time=True), "BUNDLE_INVALID"),
        (lambda d: d.update(requester_secrets={"0": "x"}), "BUNDLE_INVALID"),
        (lambda d: d["dataset"].update(checksum="nope"), "BUNDLE_INVALID"),
        (lambda d: d["dataset"].pop("address"), "BUNDLE_INVALID"),
        (lambda d: d["dataset"].update(address="0x12"), "BUNDLE_INVALID"),
        (lambda d: d["dataset"].pop("filename"), "BUNDLE_INVALID"),
        (lambda d: d["dataset"].update(filename="../etc/passwd"), "BUNDLE_INVALID"),
        (lambda d: d["dataset"].update(filename="a/b"), "BUNDLE_INVALID"),
        (lambda d: d["dataset"].update(filename=".."), "BUNDLE_INVALID"),
        (lambda d: d["dataset"].update(filename=""), "BUNDLE_INVALID"),
        (lambda d: d["dataset"].update(filename="x" * 256), "BUNDLE_INVALID"),
        (lambda d: d["dataset"].update(filename="a\nb"), "BUNDLE_INVALID"),
        (lambda d: d["dataset"].update(filename=3), "BUNDLE_INVALID"),
        (lambda d: d["params"].update(input_files=[1]), "BUNDLE_INVALID"),
    ],
)
def test_bad_bundles_are_refused(mutate: object, code: str) -> None:
    data = json.loads(BUNDLE.to_json())
    mutate(data)  # type: ignore[operator]
    with pytest.raises(SecretError) as caught:
        SecretsBundle.from_json(json.dumps(data).encode())
    assert caught.value.code == code


@given(st.binary(max_size=300))
def test_random_bytes_only_raise_secret_error(raw: bytes) -> None:
    with contextlib.suppress(SecretError):
        SecretsBundle.from_json(raw)


FAILURE_BUNDLE = SecretsBundle(
    task_id="0x" + "11" * 32,
    worker="0x" + "AB" * 20,
    enclave_key="0x" + "22" * 32,
    beneficiary_recipient=None,
    result_upload=ResultUpload(url="http://127.0.0.1:9/results", token="t0k"),
    max_time=300,
    failure=ReleaseFailure(FailureCode.SECRET_MISSING, "requester secret 'api' was never pushed"),
)


def test_a_failure_bundle_round_trips_without_a_recipient() -> None:
    parsed = SecretsBundle.from_json(FAILURE_BUNDLE.to_json())
    assert parsed == FAILURE_BUNDLE
    assert parsed.failure is not None
    assert parsed.failure.code is FailureCode.SECRET_MISSING
    assert json.loads(FAILURE_BUNDLE.to_json())["version"] == 3


def test_a_dataset_without_a_pushed_filename_round_trips() -> None:
    from dataclasses import replace

    assert BUNDLE.dataset is not None
    bundle = replace(BUNDLE, dataset=replace(BUNDLE.dataset, filename=None))
    assert SecretsBundle.from_json(bundle.to_json()) == bundle


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(requester_secrets={"1": "x"}),
        lambda d: d.update(app_developer_secret="dev"),
        lambda d: d.update(
            dataset={"url": "u", "checksum": "0x" + "33" * 32, "key": "AGE-SECRET-KEY-1" + "Q" * 58}
        ),
        lambda d: d["params"].update(args="--x"),
        lambda d: d.update(failure={"code": 99, "reason": ""}),
        lambda d: d.update(failure={"code": 13, "reason": "x", "extra": 1}),
        lambda d: d.update(failure={"code": 13, "reason": "x" * 1001}),
        lambda d: d.update(failure=[13]),
    ],
    ids=[
        "requester-secret",
        "developer-secret",
        "dataset",
        "params",
        "unknown-code",
        "extra",
        "long",
        "list",
    ],
)
def test_a_failure_bundle_carries_no_secret(mutate: object) -> None:
    data = json.loads(FAILURE_BUNDLE.to_json())
    mutate(data)  # type: ignore[operator]
    with pytest.raises(SecretError) as caught:
        SecretsBundle.from_json(json.dumps(data).encode())
    assert caught.value.code == "BUNDLE_INVALID"
