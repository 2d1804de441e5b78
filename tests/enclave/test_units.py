"""Pure pieces of the runtime: the report format, the app environment, URL names, failure codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.adapters.tee import FailureReceipt, LogsInfo, ResultInfo, RunReport, Timings
from sealrun.core.bundles import parse_manifest
from sealrun.core.tasks import FailureCode, parse_failure_code
from sealrun.enclave.appinterface import app_argv
from sealrun.enclave.failure import TaskFailedError
from sealrun.enclave.fetching import url_basename
from sealrun.errors import ConfigError, EnclaveError

LOGS = LogsInfo("/w/logs.tar.age", "0x" + "aa" * 32, 100, 1, 2, truncated=False)
RESULT = ResultInfo("0x01", "0x02", "0x03", "0x04", "/w/result.tar.age", "0x05", 9, "0x08")
FAILURE = FailureReceipt(1, "APP_EXIT_NONZERO", "0x06", "0x07", "0x09")


def _report(**changes: object) -> RunReport:
    fields: dict[str, object] = {
        "status": "completed", "task_id": "0x" + "ab" * 32, "worker": "0x" + "11" * 20,
        "enclave": "0x" + "22" * 20, "fingerprint": "0x" + "33" * 32, "logs": LOGS, "result": RESULT,
        "timings": Timings(1.0, 2.0, 3.0, 6.0),
    }  # fmt: skip
    fields.update(changes)
    return RunReport(**fields)  # type: ignore[arg-type]


def test_report_round_trips() -> None:
    for report in (_report(), _report(status="failed", result=None, failure=FAILURE, exit_status=1)):
        assert RunReport.from_json(report.to_json()) == report
        assert report.to_dict()["version"] == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "done"},
        {"result": None},
        {"status": "failed"},
        {"failure": FAILURE},
        {"status": "failed", "result": None},
    ],
)
def test_inconsistent_reports_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(EnclaveError) as caught:
        _report(**changes)
    assert caught.value.code == "REPORT_INVALID"


def test_report_versions_and_garbage() -> None:
    with pytest.raises(EnclaveError) as caught:
        RunReport.from_json(_report().to_json().replace(b'"version":1', b'"version":2'))
    assert caught.value.code == "REPORT_VERSION_UNSUPPORTED"
    with pytest.raises(EnclaveError) as caught:
        RunReport.from_json(_report().to_json().replace(b'"exit_status"', b'"surprise"'))
    assert caught.value.code == "REPORT_INVALID"


@given(
    st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.integers() | st.text(max_size=5),
            lambda c: st.dictionaries(st.text(max_size=8), c, max_size=4),
        ).map(lambda v: __import__("json").dumps({"version": 1, **v} if isinstance(v, dict) else v).encode()),
    )
)
def test_report_parser_only_raises_report_errors(raw: bytes) -> None:
    codes = set()
    try:
        RunReport.from_json(raw)
    except EnclaveError as error:
        codes.add(error.code)
    assert codes <= {"REPORT_INVALID", "REPORT_VERSION_UNSUPPORTED"}


def test_argv_appends_shell_split_args() -> None:
    manifest = parse_manifest('[app]\nname = "a"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n')
    assert app_argv(manifest, "") == ("python3", "app.py")
    assert app_argv(manifest, "--x 'a b' \"c\" $HOME;rm") == (
        "python3",
        "app.py",
        "--x",
        "a b",
        "c",
        "$HOME;rm",
    )
    with pytest.raises(TaskFailedError) as caught:
        app_argv(manifest, "'open")
    assert caught.value.failure is FailureCode.TASK_PARAMS_INVALID


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://store/v1/blobs/abc", "abc"),
        ("file:///data/my%20file.csv", "my_file.csv"),
        ("https://host/", "fallback"),
        ("https://host/..", "fallback"),
        ("https://host/.hidden", "hidden"),
        ("https://host/a/b%2F..%2Fc", "b_.._c"),
    ],
)
def test_url_basenames_are_safe(url: str, name: str) -> None:
    assert url_basename(url, "fallback") == name


def test_failure_codes_are_stable() -> None:
    assert {code.name: int(code) for code in FailureCode} == {
        "APP_EXIT_NONZERO": 1, "APP_TIMEOUT": 2, "APP_MEMORY_EXCEEDED": 3, "APP_OUTPUT_TOO_LARGE": 4,
        "APP_OUTPUT_INVALID": 5, "INPUT_FETCH_FAILED": 6, "INPUT_CHECKSUM_MISMATCH": 7,
        "INPUT_OPEN_FAILED": 8, "BUNDLE_INVALID": 9, "SANDBOX_FAILED": 10, "RESULT_UPLOAD_FAILED": 11,
        "TASK_PARAMS_INVALID": 12, "SECRET_MISSING": 13, "RECIPIENT_MISSING": 14, "ATTEMPTS_EXHAUSTED": 15,
        "ENCLAVE_INTERNAL": 16, "INPUT_URL_REFUSED": 17, "INPUT_TOO_LARGE": 18,
        "APP_COMPUTED_JSON_INVALID": 19, "INPUT_UNAVAILABLE": 20, "GRANT_INVALID": 21,
        "OWNER_POLICY_REFUSED": 22,
    }  # fmt: skip
    assert parse_failure_code("APP_TIMEOUT") is FailureCode.APP_TIMEOUT
    assert parse_failure_code("7") is FailureCode.INPUT_CHECKSUM_MISMATCH
    for bad in (0, "0", 99, "NOPE"):
        with pytest.raises(ConfigError):
            parse_failure_code(bad)


def test_what_the_sms_said_and_a_bundle_read_already_cannot_be_changed_afterwards() -> None:
    # The receipt is built from ReleaseInfo and the task side runs on LoadedSecrets: neither
    # may be altered after it was read (mutation testing found nothing asserting it).
    from dataclasses import FrozenInstanceError

    from sealrun.enclave.secrets import LoadedSecrets, ReleaseInfo, UnsafeLocalSecretsFile
    from tests.tasks.test_bundle import BUNDLE

    info = ReleaseInfo(deal_id="0x" + "11" * 32, task_index=0, signed_record=None)
    with pytest.raises(FrozenInstanceError):
        info.task_index = 1  # type: ignore[misc]
    loaded = LoadedSecrets(BUNDLE)
    with pytest.raises(FrozenInstanceError):
        loaded.bundle = BUNDLE  # type: ignore[misc]
    local = UnsafeLocalSecretsFile(Path("secrets.json"))
    with pytest.raises(FrozenInstanceError):
        local.path = Path("other.json")  # type: ignore[misc]


def test_a_secrets_source_never_shows_a_secret_or_the_authorization_in_its_repr() -> None:
    # Sources end up in log lines and tracebacks: the bundle read already, the pool owner's
    # authorization and the randomness are left out of their repr (mutants survived without this).
    from sealrun.adapters.http.sms import SmsClient
    from sealrun.enclave.secrets import LoadedSecrets
    from sealrun.enclave.smssecrets import SmsSecrets
    from tests.tasks.test_bundle import BUNDLE

    assert BUNDLE.dataset is not None
    shown = repr(LoadedSecrets(BUNDLE))
    for secret in ("dev", "first-secret", "t0k", BUNDLE.dataset.key):
        assert secret not in shown
    client = SmsClient("http://127.0.0.1:9")
    source = SmsSecrets(
        client=client, task_id=b"\x11" * 32, worker="0x" + "ab" * 20, authorization=b"\xee" * 65
    )
    try:
        assert repr(b"\xee" * 65) not in repr(source)
        assert "authorization" not in repr(source)
        assert "urandom" not in repr(source)
        assert "_released" not in repr(source)
    finally:
        client.close()
