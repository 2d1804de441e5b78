"""The enclave runtime: one task from secrets to a signed result or a signed failure receipt.

:meth:`EnclaveRuntime.run` does, in order:

1. measure the app bundle (copied into the work folder first, so what runs is what was
   measured) and make the quoter for that measurement;
2. get the secrets bundle from the :class:`~sealrun.enclave.secrets.SecretsSource`
   (the SMS after attestation, or a local file); without it there is no enclave key, so a
   failure here raises instead of producing a receipt. A *failure bundle* (the SMS found the
   order unusable or the attempts exhausted) skips step 3: its code is the receipt's;
3. pre-compute (:mod:`.precompute`), run the app in the sandbox with iExec's interface
   (:mod:`.appinterface`), post-compute (:mod:`.outputs`): check and archive the output,
   ``digest = sha256(archive)``, seal the archive to the beneficiary and upload it;
4. whatever happened, seal the logs (the app's stdout and stderr, the enclave's own log) to
   the beneficiary;
5. write the task receipt (:mod:`.receipts`, ``docs/formats.md``) and sign, with the enclave
   key, ``result_signature_digest(result_hash, result_seal, receipt_digest)`` or, on failure,
   ``failure_digest(task, code, sha256(sealed logs), receipt_digest)``: the one signature the
   hub checks covers the receipt; store the receipt next to the report and in the task's store;
6. write the :class:`~sealrun.adapters.tee.RunReport` (temp file + rename), delete every
   plaintext folder.

Once the bundle is in hand every path ends in a signed report: an unexpected exception (a
bug, an ``OSError`` or ``UnicodeError`` in post-compute, a failed log seal) becomes the
failure ``ENCLAVE_INTERNAL``. Without a recipient to seal logs to (a failure bundle for
``RECIPIENT_MISSING``), or when sealing the logs itself failed, the receipt's log digest is
32 zero bytes and the report's ``logs`` name no file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from sealrun.adapters.bundlefiles import AppBundle, load_bundle
from sealrun.adapters.sandbox import SandboxLimits, SandboxOutcome, SandboxRunner, SandboxSpec
from sealrun.adapters.sandbox.mounts import output_full
from sealrun.adapters.tee import FailureReceipt, LogsInfo, Quoter, ResultInfo, RunReport, Timings
from sealrun.api.ids import parse_task_id
from sealrun.core.attestation import Evidence
from sealrun.core.tasks import FailureCode, SecretsBundle, address_of, result_hash, result_seal
from sealrun.enclave.appinterface import app_argv, app_environment, runtime_profile
from sealrun.enclave.envelopes import seal_archive, seal_folder
from sealrun.enclave.failure import TaskFailedError
from sealrun.enclave.fetching import FetchPolicy
from sealrun.enclave.outputs import archive_entries, scan_output
from sealrun.enclave.precompute import prepare_inputs
from sealrun.enclave.receipts import (
    ReceiptFacts,
    RecordingQuoter,
    file_sha256,
    make_receipt,
    upload_receipt,
    write_receipt,
)
from sealrun.enclave.secrets import ReleaseContext, SecretsSource
from sealrun.enclave.uploads import upload_logs, upload_result
from sealrun.enclave.workspace import Workspace
from sealrun.errors import EnclaveError, SandboxError

__all__ = ["EnclaveRuntime", "RuntimeSettings"]

# Not any real app's fingerprint: an unmeasurable bundle attests as this, so no SMS releases to it.
UNMEASURED = bytes(32)
# The log digest of a receipt with no sealed log (the contract takes any bytes32).
NO_LOGS = "0x" + "00" * 32


@dataclass(frozen=True)
class RuntimeSettings:
    """Limits of the runtime itself (the app's own limits come from its manifest)."""

    # Where inputs may come from and how much: the public internet only (docs/enclave.md, Inputs).
    fetch: FetchPolicy = field(default_factory=FetchPolicy)
    log_size_bytes: int = 1 << 20
    # The CA bundle the store's and the SMS's certificates are verified against (the worker's
    # ``--tls-ca-file``); None: the system's trust store.
    tls_ca_file: Path | None = None


@dataclass
class _Run:
    """What one run has learnt so far (mutable, private to :meth:`EnclaveRuntime.run`)."""

    log: list[str] = field(default_factory=list)
    outcome: SandboxOutcome | None = None
    input_bytes: int = 0
    output_bytes: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    input_files: list[tuple[str, str]] = field(default_factory=list)
    sealed_result: str | None = None


class EnclaveRuntime:
    """Runs tasks inside the (simulated or real) enclave.

    Args:
        sandbox: the app sandbox.
        make_quoter: builds the TEE quoter for a measurement (the bundle fingerprint).
        settings: runtime limits.
        http: HTTP client for inputs and the result upload (one is made if omitted).
        clock: monotonic seconds, for the report's timings.
    """

    def __init__(
        self,
        *,
        sandbox: SandboxRunner,
        make_quoter: Callable[[bytes], Quoter],
        settings: RuntimeSettings | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sandbox = sandbox
        self.make_quoter = make_quoter
        self.settings = settings or RuntimeSettings()
        self.http = http
        self.clock = clock

    def run(self, bundle_dir: Path, secrets: SecretsSource, work_dir: Path) -> RunReport:
        """Run one task and write ``work_dir/report.json``.

        Args:
            bundle_dir: the app bundle folder.
            secrets: where the task's secrets bundle comes from.
            work_dir: the task's work folder (created; its parents must be searchable by the
                sandbox user).

        Returns:
            The :class:`RunReport` (also written to ``work_dir/report.json``).

        Raises:
            SecretError, AttestationError: the secrets could not be obtained (no receipt is
                possible without the enclave key).
            EnclaveError: the work folder could not be prepared.
        """
        started = self.clock()
        drop = self.sandbox.drop_privileges
        space = Workspace(
            Path(work_dir).resolve(),
            sandbox_uid=self.sandbox.host_uid if drop else None,
            sandbox_gid=self.sandbox.host_gid if drop else None,
        )
        state = _Run()
        try:
            space.create()
            bundle, bundle_error = self._measure(bundle_dir, space)
            quoter = RecordingQuoter(self.make_quoter(bundle.fingerprint if bundle else UNMEASURED))
            state.log.append(_tee_line(quoter.tee))
            task = secrets.fetch(quoter)
            if quoter.last is None:
                # A session release (decision 0080): the receipt carries the session's evidence.
                quoter.last = _session_evidence(secrets)
            failure: TaskFailedError | None = bundle_error
            if task.failure is not None:
                failure = TaskFailedError(
                    task.failure.code, f"the SMS released no secrets: {task.failure.reason}"
                )
            result: ResultInfo | None = None
            if failure is None and bundle is not None:
                try:
                    result = self._execute(bundle, task, space, state)
                except TaskFailedError as error:
                    failure = error
                except Exception as error:  # past the release, every path ends in a receipt
                    failure = _internal(error)
            if failure is not None:
                state.log.append(f"task failed: {failure.code}: {failure.message}")
            try:
                logs = self._seal_logs(task, space, state)
            except Exception as error:  # the receipt must not depend on the logs
                failure = failure or _internal(error)
                logs = _no_logs(state)
            facts = ReceiptFacts(
                task=task,
                fingerprint=None if bundle is None else bundle.fingerprint_hex,
                isolation=type(self.sandbox).__name__.lower().removesuffix("sandbox") or "sandbox",
                quoter=quoter,
                limits=state.limits,
                input_files=state.input_files,
                logs_sha256=logs.sealed_checksum,
                **_release_facts(secrets),
            )
            try:
                result, receipt, receipt_path = self._sign(facts, result, failure, space)
            except Exception as error:  # a receipt bug must still end in a signed failure
                failure = _internal(error)
                result, receipt, receipt_path = self._sign(facts, None, failure, space)
            state.phases["total_s"] = self.clock() - started
            report = RunReport(
                status="failed" if failure is not None else "completed",
                task_id=task.task_id,
                worker=task.worker,
                enclave=address_of(task.enclave_key),
                fingerprint=None if bundle is None else bundle.fingerprint_hex,
                logs=logs,
                result=None if failure is not None else result,
                failure=receipt,
                exit_status=None if state.outcome is None else state.outcome.exit_status,
                signal=None if state.outcome is None else state.outcome.signal,
                output_bytes=state.output_bytes,
                input_bytes=state.input_bytes,
                timings=Timings(**state.phases),
                receipt_path=receipt_path,
            )
            partial = space.report.with_name(space.report.name + ".part")
            partial.write_bytes(report.to_json())
            os.replace(partial, space.report)
            return report
        finally:
            space.scrub()

    def _measure(self, bundle_dir: Path, space: Workspace) -> tuple[AppBundle | None, TaskFailedError | None]:
        try:
            space.copy_bundle(load_bundle(bundle_dir))
            # Measure the copy: it is exactly what the sandbox will mount.
            return load_bundle(space.bundle), None
        except (EnclaveError, OSError) as error:
            message = error.message if isinstance(error, EnclaveError) else str(error)
            return None, TaskFailedError(FailureCode.BUNDLE_INVALID, f"the app bundle is invalid: {message}")

    def _execute(self, bundle: AppBundle, task: SecretsBundle, space: Workspace, state: _Run) -> ResultInfo:
        mark = self.clock()
        argv = app_argv(bundle.manifest, task.params.args)
        prepared = prepare_inputs(
            task,
            input_dir=space.inputs,
            fetch_dir=space.fetch,
            fetch=self.settings.fetch,
            requested_bytes=bundle.manifest.resources.input_size_bytes,
        )
        state.input_files = [
            (url, file_sha256(space.inputs / name))
            for url, name in zip(task.params.input_files, prepared.input_files, strict=False)
        ]
        space.share_inputs()
        state.input_bytes = prepared.fetched_bytes
        state.phases["precompute_s"] = self.clock() - mark
        mark = self.clock()
        resources = bundle.manifest.resources
        flavour = runtime_profile(bundle.manifest)
        spec = SandboxSpec(
            argv=argv,
            bundle_dir=space.bundle,
            input_dir=space.inputs,
            output_dir=space.outputs,
            stdout_path=space.logs / "stdout.log",
            stderr_path=space.logs / "stderr.log",
            env={
                **flavour.env,
                **app_environment(
                    task, dataset_filename=prepared.dataset_filename, input_files=prepared.input_files
                ),
            },
            limits=SandboxLimits(
                memory_bytes=resources.memory_bytes,
                processes=resources.processes,
                file_size_bytes=resources.file_size_bytes,
                tmp_size_bytes=resources.tmp_size_bytes,
                log_size_bytes=self.settings.log_size_bytes,
                wall_time_s=float(min(resources.wall_time_s, task.max_time)),
                address_space_bytes=flavour.address_space_bytes,
            ),
        )
        try:
            outcome = self.sandbox.run(spec)
        except SandboxError as error:
            raise TaskFailedError(
                FailureCode.SANDBOX_FAILED, f"the sandbox failed: {error.message}"
            ) from error
        state.limits = {
            "wall_time_s": int(spec.limits.wall_time_s),
            "memory_bytes": resources.memory_bytes,
            "processes": resources.processes,
            "input_bytes": resources.input_size_bytes or 0,
            "output_bytes": resources.output_size_bytes,
        }
        state.outcome = outcome
        state.phases["app_s"] = self.clock() - mark
        state.log.append(f"app exit status {outcome.exit_status}, signal {outcome.signal}")
        if output_full(space.outputs):
            # IEXEC_OUT is a tmpfs of the manifest's output size: the kernel stopped the app there.
            raise TaskFailedError(
                FailureCode.APP_OUTPUT_TOO_LARGE,
                f"the app filled its {resources.output_size_bytes}-byte output folder",
            )
        _raise_for_outcome(outcome, spec.limits)
        mark = self.clock()
        try:
            entries = scan_output(
                space.outputs,
                max_bytes=resources.output_size_bytes,
                declared=bundle.manifest.declared_outputs,
            )
        except OSError as error:
            raise TaskFailedError(
                FailureCode.APP_OUTPUT_INVALID, f"the output is unreadable: {error}"
            ) from error
        state.output_bytes = sum(e.size for e in entries)
        assert task.beneficiary_recipient is not None  # only a failure bundle lacks it, and it never runs
        sealed = seal_archive(archive_entries(entries), space.sealed_result, task.beneficiary_recipient)
        digest = sealed.digest
        task_id = parse_task_id(task.task_id)
        hash_ = result_hash(task_id, digest)
        seal = result_seal(task.worker, task_id, digest)
        upload_url = upload_result(space.sealed_result, task, ca_file=self.settings.tls_ca_file)
        state.phases["postcompute_s"] = self.clock() - mark
        return ResultInfo(
            digest="0x" + digest.hex(),
            result_hash="0x" + hash_.hex(),
            result_seal="0x" + seal.hex(),
            signature="",  # the receipt's, once the logs are sealed (_sign)
            receipt_digest="",
            sealed_path=str(space.sealed_result),
            sealed_checksum=sealed.checksum,
            sealed_bytes=sealed.ciphertext_size,
            upload_url=upload_url,
        )

    def _seal_logs(self, task: SecretsBundle, space: Workspace, state: _Run) -> LogsInfo:
        if task.beneficiary_recipient is None:
            return _no_logs(state)  # a failure bundle with nobody to seal to
        enclave_log = space.logs / "enclave.log"
        # Messages may quote file names that are not UTF-8: escape them rather than fail.
        enclave_log.write_text("".join(line + "\n" for line in state.log), errors="backslashreplace")
        checksum, size = seal_folder(space.logs, space.sealed_logs, task.beneficiary_recipient)
        upload_logs(space.sealed_logs, task, ca_file=self.settings.tls_ca_file)
        outcome = state.outcome
        return LogsInfo(
            sealed_path=str(space.sealed_logs),
            sealed_checksum=checksum,
            sealed_bytes=size,
            stdout_bytes=0 if outcome is None else outcome.stdout_bytes,
            stderr_bytes=0 if outcome is None else outcome.stderr_bytes,
            truncated=outcome is not None and (outcome.stdout_truncated or outcome.stderr_truncated),
        )

    def _sign(
        self,
        facts: ReceiptFacts,
        result: ResultInfo | None,
        failure: TaskFailedError | None,
        space: Workspace,
    ) -> tuple[ResultInfo | None, FailureReceipt | None, str]:
        """Make the task receipt; its signature is the one the hub checks."""
        if failure is None and result is not None:
            facts = replace(facts, result_digest=result.digest, result_sealed=result.sealed_checksum)
        else:
            facts = replace(
                facts, failure=failure.failure if failure is not None else FailureCode.ENCLAVE_INTERNAL
            )
        receipt = make_receipt(facts)
        path = space.report.with_name("receipt.json")
        write_receipt(receipt, path)
        upload_receipt(path, facts.task, ca_file=self.settings.tls_ca_file)
        signature, digest = "0x" + receipt.signature.hex(), "0x" + receipt.digest.hex()
        if facts.failure is None and result is not None:
            return replace(result, signature=signature, receipt_digest=digest), None, str(path)
        assert facts.failure is not None
        code = facts.failure
        receipt_out = FailureReceipt(
            code=int(code),
            name=code.name,
            log_digest=facts.logs_sha256,
            signature=signature,
            receipt_digest=digest,
        )
        return None, receipt_out, str(path)


def _session_evidence(secrets: SecretsSource) -> Evidence | None:
    context = secrets.release_context() if isinstance(secrets, ReleaseContext) else None
    return None if context is None else context.evidence


def _release_facts(secrets: SecretsSource) -> dict[str, Any]:
    """What an attested source learnt from the SMS at release (nothing for a local file)."""
    if not isinstance(secrets, ReleaseContext):
        return {}
    context = secrets.release_context()
    if context is None:
        return {}
    return {
        "deal_id": context.deal_id,
        "task_index": context.task_index,
        "release": context.signed_record,
        "attestation_policy": context.policy,
    }


def _internal(error: Exception) -> TaskFailedError:
    return TaskFailedError(
        FailureCode.ENCLAVE_INTERNAL, f"unexpected {type(error).__name__} in the enclave: {error}"
    )


def _tee_line(tee: str) -> str:
    """The enclave log's line naming its TEE (the simulated one says it protects nothing)."""
    if tee == "simulated":
        return "TEE: simulated (SIMULATED: no hardware protection; the worker's host could see everything)"
    return f"TEE: {tee}"


def _no_logs(state: _Run) -> LogsInfo:
    outcome = state.outcome
    return LogsInfo(
        sealed_path="",
        sealed_checksum=NO_LOGS,
        sealed_bytes=0,
        stdout_bytes=0 if outcome is None else outcome.stdout_bytes,
        stderr_bytes=0 if outcome is None else outcome.stderr_bytes,
        truncated=outcome is not None and (outcome.stdout_truncated or outcome.stderr_truncated),
    )


def _raise_for_outcome(outcome: SandboxOutcome, limits: SandboxLimits) -> None:
    if outcome.timed_out:
        raise TaskFailedError(
            FailureCode.APP_TIMEOUT, f"the app ran past {limits.wall_time_s:g} s and was killed"
        )
    if outcome.memory_exceeded:
        raise TaskFailedError(
            FailureCode.APP_MEMORY_EXCEEDED, f"the app exceeded {limits.memory_bytes} bytes"
        )
    if outcome.file_size_exceeded:
        raise TaskFailedError(
            FailureCode.APP_OUTPUT_TOO_LARGE, f"the app wrote a file over {limits.file_size_bytes} bytes"
        )
    if outcome.exit_status != 0:
        how = f"signal {outcome.signal}" if outcome.exit_status is None else f"status {outcome.exit_status}"
        raise TaskFailedError(FailureCode.APP_EXIT_NONZERO, f"the app exited with {how}")
