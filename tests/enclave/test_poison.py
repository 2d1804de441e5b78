"""Poison tasks end with a signed failure receipt, never with a crash and a retry loop.

- output names the requester's own unpacker would refuse (not UTF-8, a newline, a backslash
  path, links out) are ``APP_OUTPUT_INVALID``, checked with the unpacker's very rules;
- a failure bundle from the SMS (an unusable order, attempts exhausted) is signed as is,
  without running the app, with or without a recipient to seal logs to;
- an unexpected error after the bundle arrived is ``ENCLAVE_INTERNAL``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sealrun.adapters.tee import RunReport
from sealrun.core.sealing import Identity
from sealrun.core.tasks import FailureCode, ReleaseFailure, SecretsBundle, failure_digest, recover_signer
from sealrun.core.tasks.secretsbundle import ResultUpload
from sealrun.enclave import EnclaveRuntime, UnsafeLocalSecretsFile
from sealrun.enclave.failure import TaskFailedError
from sealrun.enclave.outputs import check_output_name
from tests.enclave.conftest import COMPUTED, COMPUTED_BODY, TASK_ID, WORKER, Task
from tests.enclave.test_failures import Run, assert_receipt
from tests.enclave.test_runtime import open_tar

NO_LOGS = b"\x00" * 32


@pytest.fixture
def run(
    runtime: EnclaveRuntime, make_bundle: Callable[..., Path], make_task: Callable[..., Task], work_root: Path
) -> Run:
    counter = iter(range(100))

    def go(app: str) -> tuple[RunReport, Task]:
        task = make_task()
        bundle = make_bundle({"app.py": app})
        return runtime.run(
            bundle, UnsafeLocalSecretsFile(task.secrets_file), work_root / f"w{next(counter)}"
        ), task

    return go


@pytest.mark.parametrize(
    "app",
    [
        "import os\nos.close(os.open(b'/iexec_out/bad-\\xff\\xfe', os.O_CREAT | os.O_WRONLY))\n",
        "open('/iexec_out/two\\nlines', 'w').write('x')\n",
        "open('/iexec_out/tab\\there', 'w').write('x')\n",
        "open('/iexec_out/a\\\\..\\\\..\\\\escape', 'w').write('x')\n",
        "open('/iexec_out/C:drive', 'w').write('x')\n",
        "import os\nos.makedirs(b'/iexec_out/d\\xc3')\nopen(b'/iexec_out/d\\xc3/f', 'w').write('x')\n",
        "import os\nos.symlink('..', '/iexec_out/up')\n",
        "import os\nos.symlink('/etc/passwd', '/iexec_out/abs')\n",
    ],
    ids=[
        "not-utf8",
        "newline",
        "tab",
        "backslash-dotdot",
        "drive",
        "not-utf8-dir",
        "symlink-up",
        "symlink-abs",
    ],
)
def test_output_names_the_requester_could_not_open_are_invalid(run: Run, app: str) -> None:
    report, task = run(app)
    assert_receipt(report, task, FailureCode.APP_OUTPUT_INVALID)


def test_names_the_unpacker_accepts_are_sealed_and_open(run: Run) -> None:
    report, task = run(
        "import os\nos.makedirs('/iexec_out/sous dossier')\n"
        "open('/iexec_out/sous dossier/résultat ✓.txt', 'w').write('ok')\n" + COMPUTED
    )
    assert report.status == "completed", report.failure
    assert report.result is not None
    assert open_tar(Path(report.result.sealed_path), task.beneficiary) == {
        "sous dossier/résultat ✓.txt": b"ok",
        "computed.json": COMPUTED_BODY,
    }


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("bad-\udcff", "not UTF-8"),
        ("two\nlines", "UNPACK_BAD_NAME"),
        ("a\\..\\b", "UNPACK_PARENT_PATH"),
        ("C:x", "UNPACK_ABSOLUTE_PATH"),
        ("a\\b", "not a clean path"),
    ],
)
def test_check_output_name_uses_the_unpacker_rules(name: str, why: str) -> None:
    with pytest.raises(TaskFailedError) as caught:
        check_output_name(name)
    assert caught.value.failure is FailureCode.APP_OUTPUT_INVALID
    assert why in caught.value.message


def _failure_task(work_root: Path, *, code: FailureCode, recipient: bool, upload_url: str = "") -> Task:
    beneficiary = Identity.generate()
    enclave_key = os.urandom(32)
    bundle = SecretsBundle(
        task_id=TASK_ID,
        worker=WORKER,
        enclave_key="0x" + enclave_key.hex(),
        beneficiary_recipient=str(beneficiary.recipient) if recipient else None,
        result_upload=ResultUpload(url=upload_url, token=""),
        max_time=60,
        failure=ReleaseFailure(code, "requester secret 'api' was never pushed"),
    )
    path = work_root / f"failure-{code.name}.json"
    path.write_bytes(bundle.to_json())
    return Task(path, bundle, beneficiary, enclave_key)


APP_THAT_MUST_NOT_RUN = "open('/iexec_out/ran', 'w').write('the app ran')\n"


def test_a_failure_bundle_is_signed_without_running_the_app(
    runtime: EnclaveRuntime, make_bundle: Callable[..., Path], work_root: Path
) -> None:
    task = _failure_task(work_root, code=FailureCode.SECRET_MISSING, recipient=True)
    report = runtime.run(
        make_bundle({"app.py": APP_THAT_MUST_NOT_RUN}),
        UnsafeLocalSecretsFile(task.secrets_file),
        work_root / "w",
    )
    logs = assert_receipt(report, task, FailureCode.SECRET_MISSING)
    assert report.exit_status is None  # the sandbox never started
    assert b"never pushed" in logs["enclave.log"]


def test_a_failure_bundle_without_recipient_signs_a_zero_log_digest(
    runtime: EnclaveRuntime, make_bundle: Callable[..., Path], work_root: Path
) -> None:
    task = _failure_task(work_root, code=FailureCode.RECIPIENT_MISSING, recipient=False)
    report = runtime.run(
        make_bundle({"app.py": APP_THAT_MUST_NOT_RUN}),
        UnsafeLocalSecretsFile(task.secrets_file),
        work_root / "w",
    )
    _assert_zero_digest_receipt(report, FailureCode.RECIPIENT_MISSING)


def test_an_unexpected_error_after_the_release_is_enclave_internal(
    runtime: EnclaveRuntime, make_bundle: Callable[..., Path], make_task: Callable[..., Task], work_root: Path
) -> None:
    # A result URL that does not even parse: the upload code was never written for it.
    task = make_task()
    broken = SecretsBundle(
        **{**task.bundle.__dict__, "result_upload": ResultUpload(url="http://[oops", token="")}
    )
    task.secrets_file.write_bytes(broken.to_json())
    report = runtime.run(
        make_bundle({"app.py": "open('/iexec_out/r', 'w').write('r')\n" + COMPUTED}),
        UnsafeLocalSecretsFile(task.secrets_file),
        work_root / "w",
    )
    # The log upload fails the same way, so there is no sealed log to commit to either.
    _assert_zero_digest_receipt(report, FailureCode.ENCLAVE_INTERNAL)


def _assert_zero_digest_receipt(report: RunReport, code: FailureCode) -> None:
    assert report.status == "failed"
    assert report.failure is not None
    assert (report.failure.code, report.failure.name) == (int(code), code.name)
    assert report.failure.log_digest == "0x" + NO_LOGS.hex()
    assert report.logs.sealed_path == ""
    receipt = bytes.fromhex(report.failure.receipt_digest[2:])
    digest = failure_digest(bytes.fromhex(TASK_ID[2:]), int(code), NO_LOGS, receipt)
    assert recover_signer(digest, bytes.fromhex(report.failure.signature[2:])) == report.enclave
