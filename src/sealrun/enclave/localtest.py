"""The developer loop: run an app through the real runtime locally, without a chain or an SMS.

:func:`run_local_test` plays every other party for one task: it seals the input to a fresh
dataset key (as a dataset owner would), makes a fresh beneficiary key and enclave key, writes
the secrets bundle the SMS would release, runs the task with the same
:class:`~sealrun.enclave.EnclaveRuntime` (same sandbox, same pre- and post-compute) under a
throw-away simulator key, and finally opens the sealed result and logs with the beneficiary
key, as the requester would. Nothing here is trusted code: it is the enclave's test bench.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.adapters.sandbox import BubblewrapSandbox
from sealrun.adapters.sealedfiles import open_path, seal_path
from sealrun.adapters.tee import RunReport, SimulatedQuoter
from sealrun.core.attestation import SimulatorKey
from sealrun.core.sealing import Identity
from sealrun.core.tasks import SecretsBundle
from sealrun.core.tasks.bundle import DatasetSecret, ResultUpload, TaskParams
from sealrun.enclave.runtime import EnclaveRuntime
from sealrun.enclave.secrets import LocalSecretsFile
from sealrun.errors import ConfigError

__all__ = ["LocalTestResult", "run_local_test"]

_LOCAL_WORKER = "0x" + "00" * 20


@dataclass(frozen=True)
class LocalTestResult:
    """A local run: the report, and the opened output and logs folders."""

    report: RunReport
    output_dir: Path | None
    logs_dir: Path


def _work_folder(parent: Path | None) -> Path:
    # The unprivileged sandbox user must be able to traverse every parent folder.
    work = Path(tempfile.mkdtemp(prefix="sealrun-app-test-", dir=parent or "/tmp"))  # noqa: S108
    work.chmod(0o711)
    return work


def run_local_test(
    bundle_dir: Path,
    *,
    output_dir: Path,
    input_path: Path | None = None,
    input_files: Sequence[str] = (),
    args: str = "",
    requester_secrets: Mapping[int, str] | None = None,
    app_developer_secret: str | None = None,
    work_parent: Path | None = None,
) -> LocalTestResult:
    """Run ``bundle_dir`` once, locally, and open its result into ``output_dir``.

    Args:
        bundle_dir: the app bundle.
        output_dir: a new folder to receive ``output/`` (the app's result) and ``logs/``.
        input_path: a file or folder to use as the dataset (sealed, then opened by the enclave).
        input_files: public input file URLs (``IEXEC_INPUT_FILE_NAME_n``).
        args: the request's args.
        requester_secrets: ``IEXEC_REQUESTER_SECRET_n`` values by index.
        app_developer_secret: ``IEXEC_APP_DEVELOPER_SECRET``.
        work_parent: where to make the (sealed-only, kept) work folder; default /tmp.

    Returns:
        The :class:`LocalTestResult`.

    Raises:
        ConfigError: ``OUTPUT_EXISTS`` if ``output_dir`` exists, ``FILE_NOT_FOUND`` for a
            missing input; EnclaveError for an unreadable bundle.
    """
    if output_dir.exists():
        raise ConfigError(f"{output_dir} already exists; pick a new folder", code="OUTPUT_EXISTS")
    bundle = load_bundle(bundle_dir)
    work = _work_folder(work_parent)
    try:
        dataset = None
        if input_path is not None:
            if not input_path.exists():
                raise ConfigError(f"{input_path} does not exist", code="FILE_NOT_FOUND")
            key = Identity.generate()
            sealed = seal_path(input_path, work / f"{input_path.name}.age", [key.recipient])
            dataset = DatasetSecret(url=sealed.path.as_uri(), checksum=sealed.checksum, key=str(key))
        beneficiary = Identity.generate()
        task = SecretsBundle(
            task_id="0x" + secrets.token_hex(32),
            worker=_LOCAL_WORKER,
            enclave_key="0x" + secrets.token_hex(32),
            beneficiary_recipient=str(beneficiary.recipient),
            result_upload=ResultUpload(url="", token=""),
            max_time=bundle.manifest.resources.wall_time_s,
            params=TaskParams(args=args, input_files=tuple(input_files)),
            dataset=dataset,
            app_developer_secret=app_developer_secret,
            requester_secrets=dict(requester_secrets or {}),
        )
        secrets_file = work / "secrets.json"
        fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(task.to_json())
        simulator = SimulatorKey.generate()
        runtime = EnclaveRuntime(
            sandbox=BubblewrapSandbox(),
            make_quoter=lambda measurement: SimulatedQuoter(key=simulator, measurement=measurement),
        )
        report = runtime.run(bundle.root, LocalSecretsFile(secrets_file), work / "task")
        secrets_file.unlink()
        output_dir.mkdir(parents=True)
        logs = open_path(Path(report.logs.sealed_path), output_dir / "logs", [beneficiary]).path
        opened = None
        if report.result is not None:
            opened = open_path(Path(report.result.sealed_path), output_dir / "output", [beneficiary]).path
    finally:
        shutil.rmtree(work, ignore_errors=True)  # sealed inputs and outputs only; opened above
    return LocalTestResult(report=report, output_dir=opened, logs_dir=logs)
