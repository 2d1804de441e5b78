"""Inputs come from the public internet only: real loopback servers, no internet needed.

Two loopback servers play the parts: ``store`` is an origin the worker lists for plain http
(the devnet's store), ``victim`` stands for everything else on the host (the SMS, a database):
it counts every TCP connection it accepts, so "refused" means "never connected to".
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpcore
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealrun.adapters.tee import RunReport
from sealrun.core.netpolicy import FetchPolicy, http_origin
from sealrun.core.tasks import FailureCode
from sealrun.core.tasks.secretsbundle import DatasetSecret, ResultUpload, SecretsBundle, TaskParams
from sealrun.enclave import EnclaveRuntime, UnsafeLocalSecretsFile
from sealrun.enclave.failure import TaskFailedError
from sealrun.enclave.fetching import InputFetcher, PublicNetworkBackend
from sealrun.enclave.precompute import prepare_inputs
from sealrun.errors import ConfigError, EnclaveError
from tests.enclave.conftest import Task
from tests.enclave.test_runtime import open_tar

PLENTY = 1 << 50  # free bytes reported by the injected statvfs


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.paths.append(parts.path)
        kind, _, arg = parts.path.strip("/").partition("/")
        if kind == "data":  # /data/<n>: n bytes with a Content-Length
            body = b"x" * int(arg)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif kind == "stream":  # /stream/<n>: n bytes, no Content-Length (ends at close)
            self.send_response(200)
            self.end_headers()
            left = int(arg)
            while left > 0:
                self.wfile.write(b"y" * min(left, 1 << 16))
                left -= 1 << 16
        elif kind == "redirect":  # /redirect?to=URL
            self.send_response(302)
            self.send_header("Location", parse_qs(parts.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif kind == "flaky":  # /flaky/<name>-<n>: 503 the first n times, then 5 bytes
            with self.server.lock:
                seen = self.server.flaky.get(arg, 0)
                self.server.flaky[arg] = seen + 1
            if seen < int(arg.rpartition("-")[2]):
                self.send_error(503)
                return
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"ready")
        elif kind == "status":  # /status/<code>
            self.send_error(int(arg))
        elif kind == "loop":  # /loop/<k> -> /loop/<k+1>
            self.send_response(302)
            self.send_header("Location", f"/loop/{int(arg) + 1}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Recorder(http.server.ThreadingHTTPServer):
    """A loopback http server that counts the connections it accepts and the paths asked."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.paths: list[str] = []
        self.flaky: dict[str, int] = {}
        self.lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.connections += 1
        super().process_request(request, client_address)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _serve() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def store() -> Iterator[Recorder]:
    yield from _serve()


@pytest.fixture(scope="module")
def victim() -> Iterator[Recorder]:
    yield from _serve()


@pytest.fixture
def policy(store: Recorder) -> FetchPolicy:
    return FetchPolicy(allowed_http_origins=frozenset({store.origin}))


def fetch(url: str, folder: Path, policy: FetchPolicy, **options: Any) -> TaskFailedError | bytes:
    """Fetch ``url`` into ``folder/input``; the failure, or the bytes fetched."""
    options.setdefault("free_space", lambda _folder: PLENTY)
    options.setdefault("sleep", lambda _seconds: None)  # in-place retries wait for nothing here
    with InputFetcher(policy, **options) as fetcher:
        try:
            return fetcher.fetch(url, folder / "input").path.read_bytes()
        except TaskFailedError as error:
            return error


def refused(
    result: TaskFailedError | bytes, url: str, rule: str, code: FailureCode = FailureCode.INPUT_URL_REFUSED
) -> None:
    assert isinstance(result, TaskFailedError), "fetched, should have been refused"
    assert result.failure is code
    assert result.code == code.name
    assert url in result.message
    assert rule in result.message, result.message


# --- schemes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file:///etc/shadow",
        "file:///dev/zero",
        "file://localhost/etc/passwd",
        "FILE:///etc/passwd",
        "data:text/plain,hello",
        "ftp://example.com/x",
        "gopher://example.com/x",
        "ws://example.com/x",
        "/etc/passwd",
        "etc/passwd",
        "",
    ],
)
def test_every_scheme_but_https_is_refused(url: str, tmp_path: Path, policy: FetchPolicy) -> None:
    refused(fetch(url, tmp_path, policy), url, "scheme")
    assert list(tmp_path.iterdir()) == []


def test_plain_http_is_refused_unless_its_origin_is_listed(
    tmp_path: Path, policy: FetchPolicy, victim: Recorder
) -> None:
    before = victim.connections
    url = f"{victim.origin}/data/5"
    refused(fetch(url, tmp_path, policy), url, "plain http")
    refused(fetch("http://example.com/x", tmp_path, policy), "http://example.com/x", "plain http")
    assert victim.connections == before


def test_an_allowed_http_origin_is_fetched(tmp_path: Path, policy: FetchPolicy, store: Recorder) -> None:
    assert fetch(f"{store.origin}/data/123", tmp_path, policy) == b"x" * 123
    # The same origin spelled with an upper-case scheme is the same origin.
    assert fetch(f"HTTP://127.0.0.1:{store.port}/data/4", tmp_path, policy) == b"xxxx"


# --- addresses, after resolution, on the connection itself -----------------------------------


@pytest.mark.parametrize(
    ("host", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("2130706433", "loopback"),  # decimal 127.0.0.1
        ("0x7f.1", "loopback"),  # hex and short form
        ("0x7f000001", "loopback"),
        ("0177.0.0.1", "not a valid URL"),  # octal: httpx refuses to parse it
        ("127.1", "loopback"),
        ("localhost", "loopback"),  # a DNS name that resolves to 127.0.0.1
        ("LocalHost", "loopback"),
        ("0", "unspecified"),  # 0.0.0.0: connecting to it reaches the local host
        ("0.0.0.0", "unspecified"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "embeds 127.0.0.1, which is loopback"),
        ("[::ffff:7f00:1]", "embeds 127.0.0.1, which is loopback"),
        ("[::]", "unspecified"),
        ("10.255.255.1", "private"),
        ("192.168.0.1", "private"),
        ("172.16.0.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("169.254.169.254", "metadata"),
        ("[fd00:ec2::254]", "metadata"),
        ("[fe80::1]", "link-local"),
        ("224.0.0.1", "multicast"),
    ],
)
def test_non_public_addresses_are_refused_without_connecting(
    host: str, rule: str, tmp_path: Path, policy: FetchPolicy, victim: Recorder
) -> None:
    before = victim.connections
    url = f"https://{host}:{victim.port}/data/5"
    refused(fetch(url, tmp_path, policy), url, rule)
    assert victim.connections == before
    assert list(tmp_path.iterdir()) == []


def test_the_listed_origin_is_exempt_only_exactly(
    tmp_path: Path, policy: FetchPolicy, store: Recorder
) -> None:
    before = store.connections
    for url in (
        f"https://127.0.0.1:{store.port}/data/5",  # same host and port, other scheme
        f"https://localhost:{store.port}/data/5",
    ):
        refused(fetch(url, tmp_path, policy), url, "loopback")
    for url in (f"http://localhost:{store.port}/data/5", f"http://2130706433:{store.port}/data/5"):
        refused(fetch(url, tmp_path, policy), url, "plain http")
    assert store.connections == before


def test_every_resolved_address_must_be_public(tmp_path: Path, policy: FetchPolicy) -> None:
    # A name that answers a public and a loopback address (the rebinding trick) is refused
    # whole, before any connection; so is one that answers only a private address.
    for answer, rule in ((["93.184.216.34", "127.0.0.1"], "loopback"), (["10.0.0.7"], "private")):
        asked: list[tuple[str, int]] = []

        def resolve(host: str, port: int, answer: list[str] = answer, asked: list[Any] = asked) -> list[str]:
            asked.append((host, port))
            return answer

        url = "https://public.example/data"
        refused(fetch(url, tmp_path, policy, resolve=resolve), url, rule)
        assert asked == [("public.example", 443)]


def test_the_backend_refuses_unix_sockets() -> None:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the code is asserted below
        PublicNetworkBackend().connect_unix_socket("/run/sms.sock")
    assert getattr(caught.value, "code", None) == "INPUT_ADDRESS_REFUSED"


def test_a_name_that_resolves_to_nothing_is_a_connect_error_naming_it() -> None:
    # A resolver that answers no address (or fails) is a connection failure, never a crash:
    # the fetcher's retry policy treats ConnectError as transient, an AssertionError not at all.
    def nothing(host: str, port: int) -> list[str]:
        return []

    def fails(host: str, port: int) -> list[str]:
        raise OSError("no such name")

    with pytest.raises(httpcore.ConnectError, match=r"empty\.example resolves to no address"):
        PublicNetworkBackend(resolve=nothing).connect_tcp("empty.example", 443)
    with pytest.raises(httpcore.ConnectError, match=r"gone\.example does not resolve: no such name"):
        PublicNetworkBackend(resolve=fails).connect_tcp("gone.example", 443)


# --- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "rule"),
    [
        ("{victim}/data/5", "plain http"),
        ("https://127.0.0.1:{port}/data/5", "loopback"),
        ("https://localhost:{port}/data/5", "loopback"),
        ("https://[::ffff:127.0.0.1]:{port}/data/5", "loopback"),
        ("https://10.1.2.3/data/5", "private"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("file:///etc/passwd", "scheme"),
    ],
)
def test_a_redirect_from_an_allowed_origin_is_checked_again(
    target: str, rule: str, tmp_path: Path, policy: FetchPolicy, store: Recorder, victim: Recorder
) -> None:
    before = victim.connections
    hop = target.format(victim=victim.origin, port=victim.port)
    url = str(httpx.URL(f"{store.origin}/redirect", params={"to": hop}))
    result = fetch(url, tmp_path, policy)
    refused(result, url, rule)
    assert isinstance(result, TaskFailedError)
    assert victim.connections == before
    assert list(tmp_path.iterdir()) == []


def test_redirects_within_the_allowed_origin_stop_after_three(
    tmp_path: Path, policy: FetchPolicy, store: Recorder
) -> None:
    target = f"{store.origin}/data/3"
    ok = str(httpx.URL(f"{store.origin}/redirect", params={"to": target}))
    assert fetch(ok, tmp_path, policy) == b"xxx"
    url = f"{store.origin}/loop/0"
    refused(fetch(url, tmp_path, policy), url, "more than 3 redirects")
    assert store.paths[-4:] == ["/loop/0", "/loop/1", "/loop/2", "/loop/3"]


# --- sizes -----------------------------------------------------------------------------------


def test_content_length_over_the_limit_is_refused_before_reading(tmp_path: Path, store: Recorder) -> None:
    policy = FetchPolicy(allowed_http_origins=frozenset({store.origin}), max_input_bytes=1000)
    url = f"{store.origin}/data/5000"
    # Only the header check names the Content-Length; the streaming check does not.
    refused(
        fetch(url, tmp_path, policy),
        url,
        "Content-Length 5000 is larger than the per-input limit of 1000",
        FailureCode.INPUT_TOO_LARGE,
    )
    assert list(tmp_path.iterdir()) == []


def test_a_body_without_content_length_stops_at_the_limit(tmp_path: Path, store: Recorder) -> None:
    policy = FetchPolicy(allowed_http_origins=frozenset({store.origin}), max_input_bytes=100_000)
    url = f"{store.origin}/stream/{10 << 20}"
    refused(
        fetch(url, tmp_path, policy),
        url,
        "larger than the per-input limit of 100000 bytes",
        FailureCode.INPUT_TOO_LARGE,
    )
    assert list(tmp_path.iterdir()) == []
    assert fetch(f"{store.origin}/stream/100000", tmp_path, policy) == b"y" * 100_000


def _bundle(*input_files: str, dataset: DatasetSecret | None = None) -> SecretsBundle:
    return SecretsBundle(
        task_id="0x" + "ab" * 32,
        worker="0x" + "11" * 20,
        enclave_key="0x" + "22" * 32,
        beneficiary_recipient="age1" + "q" * 58,
        result_upload=ResultUpload(url="", token=""),
        max_time=60,
        params=TaskParams(input_files=input_files),
        dataset=dataset,
    )


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    inputs, scratch = tmp_path / "in", tmp_path / "fetch"
    inputs.mkdir()
    scratch.mkdir()
    return inputs, scratch


def _prepare(bundle: SecretsBundle, folders: tuple[Path, Path], policy: FetchPolicy, **options: Any) -> Any:
    options.setdefault("free_space", lambda _folder: PLENTY)
    return prepare_inputs(bundle, input_dir=folders[0], fetch_dir=folders[1], fetch=policy, **options)


def test_the_total_budget_holds_across_inputs(folders: tuple[Path, Path], store: Recorder) -> None:
    policy = FetchPolicy(allowed_http_origins=frozenset({store.origin}), max_total_bytes=1000)
    two = _bundle(f"{store.origin}/data/600", f"{store.origin}/data/400")
    assert _prepare(two, folders, policy).fetched_bytes == 1000
    for path in folders[0].iterdir():
        path.unlink()
    three = _bundle(f"{store.origin}/data/600", f"{store.origin}/data/300", f"{store.origin}/data/101")
    with pytest.raises(TaskFailedError) as caught:
        _prepare(three, folders, policy)
    assert caught.value.failure is FailureCode.INPUT_TOO_LARGE
    assert "over the task's input budget of 1000 bytes (900 already fetched)" in caught.value.message


def test_the_manifest_budget_is_capped_by_the_worker(folders: tuple[Path, Path], store: Recorder) -> None:
    policy = FetchPolicy(allowed_http_origins=frozenset({store.origin}), max_total_bytes=1000)
    url = f"{store.origin}/data/600"
    with pytest.raises(TaskFailedError) as caught:
        _prepare(_bundle(url), folders, policy, requested_bytes=500)
    assert "Content-Length 600 is over the task's input budget of 500 bytes" in caught.value.message
    # Asking for more than the worker allows gives the worker's cap, not more.
    with pytest.raises(TaskFailedError) as caught:
        _prepare(_bundle(url, url), folders, policy, requested_bytes=1 << 40)
    assert "budget of 1000 bytes" in caught.value.message


def test_too_little_free_disk_refuses_before_connecting(folders: tuple[Path, Path], store: Recorder) -> None:
    policy = FetchPolicy(
        allowed_http_origins=frozenset({store.origin}), max_total_bytes=1000, free_space_margin_bytes=100
    )
    seen: list[Path] = []

    def free_space(folder: Path) -> int:
        seen.append(folder)
        return 1099  # one byte short of budget + margin

    before = store.connections
    with pytest.raises(TaskFailedError) as caught:
        _prepare(_bundle(f"{store.origin}/data/10"), folders, policy, free_space=free_space)
    assert caught.value.failure is FailureCode.INPUT_TOO_LARGE
    assert "only 1099 bytes are free on the disk" in caught.value.message
    assert seen == [folders[0]]
    assert store.connections == before
    assert (
        _prepare(
            _bundle(f"{store.origin}/data/10"), folders, policy, free_space=lambda _f: 1100
        ).fetched_bytes
        == 10
    )


def test_the_real_statvfs_is_used_by_default(folders: tuple[Path, Path], store: Recorder) -> None:
    # No machine has 2**62 bytes free: the default free-space check must refuse.
    policy = FetchPolicy(allowed_http_origins=frozenset({store.origin}), free_space_margin_bytes=1 << 62)
    with pytest.raises(TaskFailedError) as caught:
        prepare_inputs(
            _bundle(f"{store.origin}/data/10"), input_dir=folders[0], fetch_dir=folders[1], fetch=policy
        )
    assert "bytes are free on the disk" in caught.value.message


# --- pre-compute end to end ------------------------------------------------------------------


def test_a_file_url_input_fetches_nothing(
    folders: tuple[Path, Path], store: Recorder, policy: FetchPolicy
) -> None:
    before = list(store.paths)
    bundle = _bundle(f"{store.origin}/data/10", "file:///etc/passwd")
    with pytest.raises(TaskFailedError) as caught:
        _prepare(bundle, folders, policy)
    assert caught.value.failure is FailureCode.INPUT_URL_REFUSED
    assert caught.value.message.startswith("cannot fetch file:///etc/passwd: the 'file' scheme is refused")
    # Every URL is checked before the first download: not even the good one was fetched.
    assert store.paths == before
    assert list(folders[0].iterdir()) == []
    assert list(folders[1].iterdir()) == []


def test_a_loopback_dataset_url_is_refused(
    folders: tuple[Path, Path], victim: Recorder, policy: FetchPolicy
) -> None:
    before = victim.connections
    dataset = DatasetSecret(
        url=f"{victim.origin}/blob",
        checksum="0x" + "00" * 32,
        key="AGE-SECRET-KEY-1" + "Q" * 58,
        address="0x" + "da" * 20,
    )
    with pytest.raises(TaskFailedError) as caught:
        _prepare(_bundle(dataset=dataset), folders, policy)
    assert caught.value.failure is FailureCode.INPUT_URL_REFUSED
    assert victim.connections == before
    assert list(folders[0].iterdir()) == []


def test_a_task_naming_host_files_ends_with_a_receipt_and_no_leak(
    runtime: EnclaveRuntime,
    make_bundle: Callable[..., Path],
    make_task: Callable[..., Task],
    work_root: Path,
) -> None:
    # The red team's app: copy every input into the output.
    app = (
        "import os, shutil\n"
        "for name in os.listdir('/iexec_in'):\n"
        "    shutil.copy(os.path.join('/iexec_in', name), '/iexec_out')\n"
    )
    task = make_task(input_files=("file:///etc/shadow",))
    report: RunReport = runtime.run(
        make_bundle({"app.py": app}), UnsafeLocalSecretsFile(task.secrets_file), work_root / "w"
    )
    assert report.status == "failed"
    assert report.failure is not None
    assert report.failure.code == FailureCode.INPUT_URL_REFUSED
    assert report.exit_status is None  # the app never ran
    log = open_tar(Path(report.logs.sealed_path), task.beneficiary)["enclave.log"].decode()
    assert "cannot fetch file:///etc/shadow: the 'file' scheme is refused" in log


# --- property: nothing but the listed origin is ever reached on loopback ---------------------

_HOSTS = st.sampled_from(
    [
        "127.0.0.1", "127.0.0.2", "127.1", "2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1", "017700000001",
        "localhost", "LocalHost", "localhost.", "0", "0.0.0.0", "[::1]", "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]", "[::127.0.0.1]", "[::]", "127.000.000.001",
    ]
)  # fmt: skip
_SCHEMES = st.sampled_from(["http", "https", "HTTP", "Https", "file", "ftp", "ws", "gopher", "data"])
_TRICKS = st.sampled_from(["", "user@", "user:pw@", "{store_host}@", "example.com@"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    # Half the time the listed host and scheme, so both sides of the property are exercised.
    scheme=st.one_of(st.just("http"), _SCHEMES),
    trick=_TRICKS,
    host=st.one_of(st.just("127.0.0.1"), _HOSTS),
    which=st.sampled_from(["store", "victim"]),
    path=st.text(alphabet="abc/._%-?#@", max_size=12),
)
def test_random_urls_never_reach_loopback_unless_listed(
    tmp_path: Path,
    store: Recorder,
    victim: Recorder,
    scheme: str,
    trick: str,
    host: str,
    which: str,
    path: str,
) -> None:
    policy = FetchPolicy(allowed_http_origins=frozenset({store.origin}), max_redirects=0, transient_retries=0)
    port = store.port if which == "store" else victim.port
    url = f"{scheme}://{trick.format(store_host=f'127.0.0.1:{store.port}')}{host}:{port}/{path}"
    try:
        parsed = httpx.URL(url)
        listed = http_origin(parsed.scheme, parsed.host, parsed.port) == store.origin
    except (httpx.InvalidURL, ValueError):
        listed = False
    before = (store.connections, victim.connections)
    result = fetch(url, tmp_path, policy)
    if listed:
        assert store.connections == before[0] + 1
    else:
        # Refused by the rules, or (a name that does not resolve, like ``localhost.``) not
        # fetched at all: either way nothing on loopback was reached.
        assert isinstance(result, TaskFailedError), "fetched, should have been refused"
        assert result.failure in {
            FailureCode.INPUT_URL_REFUSED,
            FailureCode.INPUT_FETCH_FAILED,
            FailureCode.INPUT_UNAVAILABLE,
        }
        assert (store.connections, victim.connections) == before
    assert victim.connections == before[1]
    for leftover in tmp_path.iterdir():
        os.unlink(leftover)


def test_fetched_inputs_are_hashed(tmp_path: Path, store: Recorder, policy: FetchPolicy) -> None:
    with InputFetcher(policy, free_space=lambda _f: PLENTY) as fetcher:
        got = fetcher.fetch(f"{store.origin}/data/77", tmp_path / "f")
    assert got.sha256 == hashlib.sha256(b"x" * 77).digest()
    assert got.size == 77
    assert fetcher.fetched_bytes == 77


def test_the_fetcher_fails_closed_if_httpx_stops_exposing_its_pool(
    monkeypatch: pytest.MonkeyPatch, policy: FetchPolicy
) -> None:
    """The public-network guard is swapped into httpx's private ``_pool``: a release of httpx that
    renames it must stop the fetcher, not silently fetch without the guard."""
    original = httpx.HTTPTransport.__init__

    def reshaped(self: httpx.HTTPTransport, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.__dict__["_connections"] = self.__dict__.pop("_pool")  # as if httpx had renamed it

    monkeypatch.setattr(httpx.HTTPTransport, "__init__", reshaped)
    with pytest.raises(EnclaveError) as caught:
        InputFetcher(policy)
    assert caught.value.code == "ENCLAVE_HTTP_UNGUARDED"
    monkeypatch.undo()
    with InputFetcher(policy) as fetcher:  # today's httpx has the pool: the guard is installed
        assert fetcher.budget > 0


# --- transient failures: retried in place, then INPUT_UNAVAILABLE (an infrastructure failure) -----


def test_a_store_that_comes_back_is_fetched_after_in_place_retries(tmp_path: Path, store: Recorder) -> None:
    waits: list[float] = []
    policy = FetchPolicy(allowed_http_origins=frozenset({store.origin}), retry_delay_seconds=0.5)
    assert fetch(f"{store.origin}/flaky/a-3", tmp_path, policy, sleep=waits.append) == b"ready"
    assert waits == [0.5, 1.0, 2.0]  # doubled each time
    assert not (tmp_path / "input.part").exists()


def test_a_store_still_down_is_input_unavailable(tmp_path: Path, store: Recorder) -> None:
    waits: list[float] = []
    policy = FetchPolicy(allowed_http_origins=frozenset({store.origin}), transient_retries=2)
    result = fetch(f"{store.origin}/flaky/b-99", tmp_path, policy, sleep=waits.append)
    assert isinstance(result, TaskFailedError)
    assert result.failure is FailureCode.INPUT_UNAVAILABLE
    assert "HTTP 503" in result.message
    assert waits == [1.0, 2.0]  # bounded: transient_retries
    with socket_closed() as origin:  # nothing listens: connection refused
        closed = FetchPolicy(allowed_http_origins=frozenset({origin}), transient_retries=1)
        refused_now = fetch(f"{origin}/x", tmp_path, closed, sleep=waits.append)
        assert isinstance(refused_now, TaskFailedError)
        assert refused_now.failure is FailureCode.INPUT_UNAVAILABLE


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, "INPUT_FETCH_FAILED"),
        (403, "INPUT_FETCH_FAILED"),
        (429, "INPUT_UNAVAILABLE"),
        (502, "INPUT_UNAVAILABLE"),
    ],
)
def test_what_is_transient(tmp_path: Path, store: Recorder, status: int, code: str) -> None:
    waits: list[float] = []
    policy = FetchPolicy(allowed_http_origins=frozenset({store.origin}), transient_retries=1)
    result = fetch(f"{store.origin}/status/{status}", tmp_path, policy, sleep=waits.append)
    assert isinstance(result, TaskFailedError)
    assert result.code == code
    assert len(waits) == (1 if code == "INPUT_UNAVAILABLE" else 0)  # a refusal is not retried


def test_in_place_retries_never_pass_the_fetch_deadline(tmp_path: Path, store: Recorder) -> None:
    waits: list[float] = []
    policy = FetchPolicy(
        allowed_http_origins=frozenset({store.origin}), max_fetch_seconds=2.5, retry_delay_seconds=1.0
    )
    clock = [0.0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    result = fetch(f"{store.origin}/flaky/c-99", tmp_path, policy, sleep=sleep, clock=lambda: clock[0])
    assert isinstance(result, TaskFailedError)
    assert result.failure is FailureCode.INPUT_UNAVAILABLE
    assert waits == [1.0]  # the next wait (2 s) would end past the 2.5 s budget


@pytest.mark.parametrize(
    "bad", [{"transient_retries": -1}, {"transient_retries": 11}, {"transient_retries": True},
            {"retry_delay_seconds": 0}, {"retry_delay_seconds": 61}, {"retry_delay_seconds": float("nan")}],
)  # fmt: skip
def test_bad_retry_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        FetchPolicy(**bad)
    assert caught.value.code == "FETCH_POLICY_INVALID"


@contextlib.contextmanager
def socket_closed() -> Iterator[str]:
    """An http origin on loopback where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}"
