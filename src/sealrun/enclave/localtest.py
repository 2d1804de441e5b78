"""The developer loop: run an app through the real runtime locally, without a chain or an SMS.

:func:`run_local_test` plays every other party for one task: it seals the input to a fresh
dataset key (as a dataset owner would), makes a fresh beneficiary key and enclave key, writes
the secrets bundle the SMS would release, runs the task with the same
:class:`~sealrun.enclave.EnclaveRuntime` (same sandbox, same pre- and post-compute) under a
throw-away simulator key, and finally opens the sealed result and logs with the beneficiary
key, as the requester would. Nothing here is trusted code: it is the enclave's test bench.

The runtime fetches inputs from the public internet only (``docs/enclave.md``, "Inputs"), and
the bench does not bend that rule: the sealed dataset and the local files a developer names
(``--input-file PATH``) are served by a :class:`LoopbackFileServer` that serves exactly those
files, and the runtime's policy lists that one origin for plain http, as a worker lists the
devnet's store. Input URLs (``--input-url``) go through the same rules as on a worker:
``file://`` and loopback URLs are refused before the run.
"""

from __future__ import annotations

import http.server
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, unquote, urlsplit

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.adapters.sandbox import BubblewrapSandbox
from sealrun.adapters.sealedfiles import open_path, seal_path
from sealrun.adapters.tee import RunReport, SimulatedQuoter
from sealrun.core.attestation import SimulatorKey
from sealrun.core.netpolicy import FetchPolicy, check_url_target
from sealrun.core.sealing import Identity
from sealrun.core.tasks import SecretsBundle
from sealrun.core.tasks.filenames import check_dataset_filename
from sealrun.core.tasks.secretsbundle import DatasetSecret, ResultUpload, TaskParams
from sealrun.enclave.fetching import url_basename
from sealrun.enclave.runtime import EnclaveRuntime, RuntimeSettings
from sealrun.enclave.secrets import UnsafeLocalSecretsFile
from sealrun.errors import ConfigError, EnclaveError

__all__ = ["LocalTestResult", "LoopbackFileServer", "run_local_test"]

_LOCAL_WORKER = "0x" + "00" * 20


@dataclass(frozen=True)
class LocalTestResult:
    """A local run: the report, and the opened output and logs folders."""

    report: RunReport
    output_dir: Path | None
    logs_dir: Path


class LoopbackFileServer:
    """Serves chosen local files over plain http on ``127.0.0.1`` (the bench's stand-in for a store).

    Only files added with :meth:`add` are served, each at ``/<n>/<its name>``; every other
    path is a 404. Use as a context manager: the server runs in a daemon thread until exit.
    """

    def __init__(self) -> None:
        self._files: dict[str, Path] = {}
        files = self._files

        class _Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = files.get(unquote(urlsplit(self.path).path))
                if path is None:
                    self.send_error(404)
                    return
                with path.open("rb") as source:
                    self.send_response(200)
                    self.send_header("Content-Length", str(os.fstat(source.fileno()).st_size))
                    self.end_headers()
                    shutil.copyfileobj(source, self.wfile)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``, the origin to list in the runtime's fetch policy."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, path: Path, name: str | None = None) -> str:
        """Serve ``path`` (a regular file) and return its URL, whose last segment is ``name``.

        Raises:
            ConfigError: ``FILE_NOT_FOUND`` when ``path`` is not a file.
        """
        if not path.is_file():
            raise ConfigError(f"{path} is not a file", code="FILE_NOT_FOUND")
        route = f"/{len(self._files) + 1}/{name or path.name}"
        self._files[route] = path.resolve()
        return self.origin + quote(route)

    def __enter__(self) -> LoopbackFileServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


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
    local_input_files: Sequence[Path] = (),
    args: str = "",
    requester_secrets: Mapping[int, str] | None = None,
    app_developer_secret: str | None = None,
    work_parent: Path | None = None,
    fetch: FetchPolicy | None = None,
) -> LocalTestResult:
    """Run ``bundle_dir`` once, locally, and open its result into ``output_dir``.

    Args:
        bundle_dir: the app bundle.
        output_dir: a new folder to receive ``output/`` (the app's result) and ``logs/``.
        input_path: a file or folder to use as the dataset (sealed, then opened by the enclave);
            the app finds it under its own name (a folder as ``<name>.zip``), as a dataset
            pushed by ``sealrun tee encryptedpush``.
        input_files: public input file URLs (``IEXEC_INPUT_FILE_NAME_n``, first): ``https``
            only, as on a worker.
        local_input_files: local files given to the app as input files too (after the URLs),
            served to the runtime by the bench's loopback server.
        args: the request's args.
        requester_secrets: ``IEXEC_REQUESTER_SECRET_n`` values by index.
        app_developer_secret: ``IEXEC_APP_DEVELOPER_SECRET``.
        work_parent: where to make the (sealed-only, kept) work folder; default /tmp.
        fetch: the runtime's fetch policy (default: a worker's default); the bench adds its
            own server's origin to ``allowed_http_origins``.

    Returns:
        The :class:`LocalTestResult`.

    Raises:
        ConfigError: ``OUTPUT_EXISTS`` if ``output_dir`` exists, ``FILE_NOT_FOUND`` for a
            missing input or local input file; EnclaveError for an unreadable bundle,
            ``INPUT_URL_REFUSED`` for an input URL a worker would refuse (``file://``, plain
            ``http``, another scheme).
    """
    if output_dir.exists():
        raise ConfigError(f"{output_dir} already exists; pick a new folder", code="OUTPUT_EXISTS")
    policy = fetch or FetchPolicy()
    for url in input_files:
        _check_input_url(url, policy)
    for local in local_input_files:
        if not local.is_file():
            raise ConfigError(f"input file {local} is not a file", code="FILE_NOT_FOUND")
    if input_path is not None and not input_path.exists():
        raise ConfigError(f"{input_path} does not exist", code="FILE_NOT_FOUND")
    if input_path is not None:
        check_dataset_filename(input_path.name)
    bundle = load_bundle(bundle_dir)
    work = _work_folder(work_parent)
    try:
        with LoopbackFileServer() as server:
            dataset = None
            if input_path is not None:
                key = Identity.generate()
                sealed = seal_path(input_path, work / f"{input_path.name}.age", [key.recipient])
                dataset = DatasetSecret(
                    url=server.add(sealed.path),
                    checksum=sealed.checksum,
                    key=str(key),
                    address="0x" + secrets.token_hex(20),  # no chain here: a fresh address
                    filename=input_path.name,
                )
            local_urls = [server.add(path, url_basename(path.name, "input")) for path in local_input_files]
            beneficiary = Identity.generate()
            task = SecretsBundle(
                task_id="0x" + secrets.token_hex(32),
                worker=_LOCAL_WORKER,
                enclave_key="0x" + secrets.token_hex(32),
                beneficiary_recipient=str(beneficiary.recipient),
                result_upload=ResultUpload(url="", token=""),
                max_time=bundle.manifest.resources.wall_time_s,
                params=TaskParams(args=args, input_files=(*input_files, *local_urls)),
                dataset=dataset,
                app_developer_secret=app_developer_secret,
                requester_secrets=dict(requester_secrets or {}),
            )
            secrets_file = work / "secrets.json"
            fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(task.to_json())
            simulator = SimulatorKey.generate()
            # The bench's server is the one extra origin, as the devnet's store is on a worker.
            allowed = policy.allowed_http_origins | {server.origin}
            runtime = EnclaveRuntime(
                sandbox=BubblewrapSandbox(),
                make_quoter=lambda measurement: SimulatedQuoter(key=simulator, measurement=measurement),
                settings=RuntimeSettings(fetch=replace(policy, allowed_http_origins=allowed)),
            )
            report = runtime.run(bundle.root, UnsafeLocalSecretsFile(secrets_file), work / "task")
            secrets_file.unlink()
        output_dir.mkdir(parents=True)
        logs = open_path(Path(report.logs.sealed_path), output_dir / "logs", [beneficiary]).path
        opened = None
        if report.result is not None:
            opened = open_path(Path(report.result.sealed_path), output_dir / "output", [beneficiary]).path
    finally:
        shutil.rmtree(work, ignore_errors=True)  # sealed inputs and outputs only; opened above
    return LocalTestResult(report=report, output_dir=opened, logs_dir=logs)


def _check_input_url(url: str, policy: FetchPolicy) -> None:
    # The scheme and origin rule of a worker, before anything runs (addresses are checked by
    # the runtime when it connects).
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise EnclaveError(f"input URL {url!r} is not a URL: {error}", code="INPUT_URL_REFUSED") from error
    try:
        check_url_target(parts.scheme, parts.hostname or "", port, policy)
    except EnclaveError as error:
        raise EnclaveError(f"input URL {url}: {error.message}", code=error.code) from error
