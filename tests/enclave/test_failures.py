"""A signed failure receipt for every failure class, with the sealed log it commits to."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from sealrun.adapters.tee import RunReport
from sealrun.core.sealing import Identity
from sealrun.core.tasks import FailureCode, failure_digest, recover_signer
from sealrun.core.tasks.secretsbundle import TaskParams
from sealrun.enclave import EnclaveRuntime, UnsafeLocalSecretsFile
from tests.enclave.conftest import COMPUTED as COMPUTED_OUT
from tests.enclave.conftest import TASK_ID, Task
from tests.enclave.test_runtime import open_tar

Run = Callable[..., tuple[RunReport, Task]]
COMPUTED = (
    "import json\njson.dump({'deterministic-output-path': '%s'}, open('/iexec_out/computed.json', 'w'))\n"
)


@pytest.fixture
def run(
    runtime: EnclaveRuntime, make_bundle: Callable[..., Path], make_task: Callable[..., Task], work_root: Path
) -> Run:
    counter = iter(range(100))

    def go(app: str, *, extra: str = "", **task_options: object) -> tuple[RunReport, Task]:
        bundle = make_bundle({"app.py": app}, extra=extra)
        task = make_task(**task_options)
        return runtime.run(
            bundle, UnsafeLocalSecretsFile(task.secrets_file), work_root / f"w{next(counter)}"
        ), task

    return go


def assert_receipt(report: RunReport, task: Task, code: FailureCode) -> dict[str, bytes]:
    """The report failed with ``code``, its receipt verifies, and its log digest is the sealed log's."""
    assert report.status == "failed"
    assert report.result is None
    assert report.failure is not None
    assert report.failure.code == int(code)
    assert report.failure.name == code.name
    sealed_log = Path(report.logs.sealed_path).read_bytes()
    assert report.failure.log_digest == "0x" + hashlib.sha256(sealed_log).hexdigest()
    digest = failure_digest(
        bytes.fromhex(TASK_ID[2:]),
        int(code),
        bytes.fromhex(report.failure.log_digest[2:]),
        bytes.fromhex(report.failure.receipt_digest[2:]),
    )
    assert recover_signer(digest, bytes.fromhex(report.failure.signature[2:])) == report.enclave
    logs = open_tar(Path(report.logs.sealed_path), task.beneficiary)
    assert code.name.encode() in logs["enclave.log"]
    return logs


def test_exit_nonzero(run: Run) -> None:
    report, task = run("import sys\nprint('oops', file=sys.stderr)\nsys.exit(3)\n")
    logs = assert_receipt(report, task, FailureCode.APP_EXIT_NONZERO)
    assert report.exit_status == 3
    assert logs["stderr.log"] == b"oops\n"


def test_killed_by_a_signal(run: Run) -> None:
    report, task = run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert_receipt(report, task, FailureCode.APP_EXIT_NONZERO)
    assert report.exit_status is None
    assert report.signal == 9


def test_timeout(run: Run) -> None:
    report, task = run("import time\ntime.sleep(600)\n", extra="[resources]\nwall_time_s = 1\n")
    assert_receipt(report, task, FailureCode.APP_TIMEOUT)


def test_category_time_lowers_the_manifest_ceiling(run: Run) -> None:
    report, task = run("import time\ntime.sleep(600)\n", max_time=1)
    assert_receipt(report, task, FailureCode.APP_TIMEOUT)


def test_memory_exceeded(run: Run) -> None:
    report, task = run("x = bytearray(1 << 30)\n", extra="[resources]\nmemory_mb = 128\n")
    assert_receipt(report, task, FailureCode.APP_MEMORY_EXCEEDED)


def test_output_too_large_in_total(run: Run) -> None:
    app = "for i in range(3):\n    open(f'/iexec_out/{i}', 'wb').write(b'x' * (900 << 10))\n"
    report, task = run(app, extra="[resources]\noutput_size_mb = 2\n")
    assert_receipt(report, task, FailureCode.APP_OUTPUT_TOO_LARGE)


def test_output_file_too_large(run: Run) -> None:
    report, task = run(
        "open('/iexec_out/big', 'wb').write(b'x' * (3 << 20))\n", extra="[resources]\nfile_size_mb = 1\n"
    )
    assert_receipt(report, task, FailureCode.APP_OUTPUT_TOO_LARGE)


@pytest.mark.parametrize(
    "app",
    [
        "import os\nos.symlink('/etc/shadow', '/iexec_out/shadow')\n",
        "import os\nos.symlink('../logs/stdout.log', '/iexec_out/peek')\n",
        "import os\nos.makedirs('/iexec_out/d')\nos.symlink('/', '/iexec_out/d/root')\n",
        "import os\nos.mkfifo('/iexec_out/fifo')\n",
    ],
    ids=["symlink-shadow", "symlink-work", "symlink-nested", "fifo"],
)
def test_output_invalid(run: Run, app: str) -> None:
    report, task = run(app)
    assert_receipt(report, task, FailureCode.APP_OUTPUT_INVALID)


@pytest.mark.parametrize(
    ("app", "why"),
    [
        ("open('/iexec_out/result.txt', 'w').write('42')\n", "the app wrote no computed.json"),
        ("pass\n", "the app wrote no computed.json"),
        ("open('/iexec_out/computed.json', 'w').write('not json')\n", "computed.json is not JSON"),
        ("open('/iexec_out/computed.json', 'w').write('[1, 2]')\n", "computed.json is not a JSON object"),
        (
            "open('/iexec_out/computed.json', 'w').write('{}')\n",
            "computed.json has no deterministic-output-path",
        ),
        ("import os\nos.mkdir('/iexec_out/computed.json')\n", "computed.json is a folder"),
        (
            COMPUTED % "/etc/passwd",
            "computed.json: deterministic-output-path '/etc/passwd' is outside IEXEC_OUT",
        ),
        (COMPUTED % "/iexec_out/../x", "computed.json: deterministic-output-path '/iexec_out/../x' escapes"),
        (
            COMPUTED % "/iexec_out/missing",
            "computed.json: deterministic-output-path '/iexec_out/missing' does not",
        ),
    ],
    ids=[
        "absent",
        "empty-output",
        "bad-json",
        "not-object",
        "no-path",
        "folder",
        "outside",
        "dotdot",
        "missing",
    ],
)
def test_computed_json_is_required_and_checked(run: Run, app: str, why: str) -> None:
    report, task = run(app)
    logs = assert_receipt(report, task, FailureCode.APP_COMPUTED_JSON_INVALID)
    assert report.failure is not None
    assert report.failure.name == "APP_COMPUTED_JSON_INVALID"
    assert "task failed: APP_COMPUTED_JSON_INVALID: " in logs["enclave.log"].decode()
    assert why in logs["enclave.log"].decode()


def test_declared_output_missing(run: Run) -> None:
    report, task = run("pass\n", extra='[outputs]\ndeclared = ["result.txt"]\n')
    assert_receipt(report, task, FailureCode.APP_OUTPUT_INVALID)


def test_input_fetch_failed_file(run: Run, work_root: Path) -> None:
    report, task = run("pass\n", dataset_url=(work_root / "absent.age").as_uri())
    assert_receipt(report, task, FailureCode.INPUT_URL_REFUSED)
    assert report.exit_status is None


def test_input_fetch_failed_http_404_and_unsupported_scheme(run: Run, http_root: tuple[str, Path]) -> None:
    base, _ = http_root
    report, task = run("pass\n", dataset_url=f"{base}/missing.age")
    assert_receipt(report, task, FailureCode.INPUT_FETCH_FAILED)
    report, task = run("pass\n", input_files=("ftp://example.com/x",))
    assert_receipt(report, task, FailureCode.INPUT_URL_REFUSED)


def test_dataset_and_inputs_over_http(
    runtime: EnclaveRuntime,
    make_bundle: Callable[..., Path],
    make_task: Callable[..., Task],
    http_root: tuple[str, Path],
    work_root: Path,
) -> None:
    base, folder = http_root
    task = make_task(dataset=b"over http")
    assert task.bundle.dataset is not None
    sealed = folder / task.bundle.dataset.url.rsplit("/", 1)[1]
    (folder / "data.bin.age").write_bytes(sealed.read_bytes())
    (folder / "input.txt").write_text("public")
    moved = replace(
        task.bundle,
        dataset=replace(task.bundle.dataset, url=f"{base}/data.bin.age"),
        params=TaskParams(input_files=(f"{base}/input.txt",)),
    )
    task.secrets_file.write_bytes(moved.to_json())
    app = (
        "import os\nd = open('/iexec_in/' + os.environ['IEXEC_DATASET_FILENAME']).read()\n"
        "i = open('/iexec_in/' + os.environ['IEXEC_INPUT_FILE_NAME_1']).read()\n"
        "open('/iexec_out/r', 'w').write(d + '+' + i)\n" + COMPUTED_OUT
    )
    report = runtime.run(
        make_bundle({"app.py": app}), UnsafeLocalSecretsFile(task.secrets_file), work_root / "w"
    )
    assert report.result is not None
    assert open_tar(Path(report.result.sealed_path), task.beneficiary)["r"] == b"over http+public"


def test_checksum_mismatch(run: Run) -> None:
    report, task = run("pass\n", dataset=b"data", checksum="0x" + "12" * 32)
    assert_receipt(report, task, FailureCode.INPUT_CHECKSUM_MISMATCH)


def test_open_failed_wrong_key(run: Run) -> None:
    report, task = run("pass\n", dataset=b"data", dataset_key=Identity.generate())
    assert_receipt(report, task, FailureCode.INPUT_OPEN_FAILED)


def test_task_params_invalid(run: Run) -> None:
    report, task = run("pass\n", args="unbalanced 'quote")
    assert_receipt(report, task, FailureCode.TASK_PARAMS_INVALID)


def test_bundle_invalid(
    runtime: EnclaveRuntime, make_bundle: Callable[..., Path], make_task: Callable[..., Task], work_root: Path
) -> None:
    bundle = make_bundle({"app.py": "pass\n"})
    (bundle / "link").symlink_to("/etc/shadow")
    task = make_task()
    report = runtime.run(bundle, UnsafeLocalSecretsFile(task.secrets_file), work_root / "w")
    assert_receipt(report, task, FailureCode.BUNDLE_INVALID)
    assert report.fingerprint is None


def test_sandbox_failed(run: Run, runtime: EnclaveRuntime) -> None:
    runtime.sandbox.bwrap = Path("/nonexistent/bwrap")
    report, task = run("pass\n")
    assert_receipt(report, task, FailureCode.SANDBOX_FAILED)
