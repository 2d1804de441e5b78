"""Service URL lists and client failover: which requests move to the next replica, and when."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.adapters.http.base import normalize_service_urls, parse_service_urls
from sealrun.adapters.http.market import MarketClient
from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.profiles import ProjectConfig
from sealrun.adapters.web.observability import http_check
from sealrun.cli.session import Session
from sealrun.core.requests import RequestDomain
from sealrun.errors import ConfigError, ServiceError
from sealrun.requester.connection import Connection
from sealrun.services.explorer.settings import ExplorerSettings
from sealrun.services.scheduler.settings import SchedulerSettings
from sealrun.services.worker.settings import WorkerSettings

TWO = "http://sms-a:8702,http://sms-b:8702/"
DOMAIN = RequestDomain(chain_id=31337, hub="0x5FbDB2315678afecb367f032d93F642f64180aa3")


def test_a_list_is_split_trimmed_and_kept_in_order() -> None:
    assert parse_service_urls(" http://a:1/ , https://b.example/api ") == (
        "http://a:1",
        "https://b.example/api",
    )
    assert normalize_service_urls("http://a:1/,http://b:2") == "http://a:1,http://b:2"


@pytest.mark.parametrize(
    "value",
    [
        "",
        ",",
        "http://a:1,",
        "ftp://a",
        "a:8702",
        "http://",
        "http://user:pw@a:1",
        "http://a:1/?x=1",
        "http://a:1/#f",
        "http://a:1,http://a:1/",
        "http://a:1\x1b[2J",
        ",".join(f"http://h{i}" for i in range(17)),
        "http://a:99999",
    ],
)
def test_a_bad_url_list_is_refused_with_its_code(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_service_urls(value)
    assert caught.value.code == "SERVICE_URL_INVALID"
    assert "pw" not in str(caught.value)


@given(st.text(max_size=200))
def test_any_text_parses_to_clean_urls_or_is_refused(value: str) -> None:
    codes: list[str] = []
    urls: tuple[str, ...] = ()
    try:
        urls = parse_service_urls(value)
    except ConfigError as error:
        codes.append(error.code)
    assert codes in ([], ["SERVICE_URL_INVALID"])
    assert len(urls) <= 16
    assert len(set(urls)) == len(urls)
    for url in urls:
        parsed = httpx.URL(url)
        assert parsed.scheme in ("http", "https")
        assert parsed.host
        assert not parsed.userinfo
        assert "," not in url
        assert not url.endswith("/")


class Replicas:
    """A transport where each host answers as told (an exception class or a status)."""

    def __init__(self, **answers: object) -> None:
        self.answers = answers
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.seen.append(host)
        answer = self.answers[host.replace("-", "_")]
        if isinstance(answer, type):
            raise answer("down", request=request)
        status = int(str(answer))
        if status >= 400:
            body = {
                "type": "about:blank",
                "title": "x",
                "status": status,
                "code": "SERVICE_BUSY",
                "detail": "x",
            }
            return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})
        return httpx.Response(200, json={"status": "ok"})


def sms(replicas: Replicas, sleeps: list[float]) -> SmsClient:
    client = SmsClient(TWO, http=httpx.Client(transport=httpx.MockTransport(replicas)))
    client._sleep = sleeps.append  # the base client's injected wait
    return client


def test_a_refused_connection_moves_to_the_next_replica_and_stays_there() -> None:
    replicas, sleeps = Replicas(sms_a=httpx.ConnectError, sms_b=200), []
    client = sms(replicas, sleeps)
    assert client.urls == ("http://sms-a:8702", "http://sms-b:8702")
    client._send("GET", "/healthz")
    client._send("GET", "/healthz")
    assert replicas.seen == ["sms-a", "sms-b", "sms-b"]
    assert client.base_url == "http://sms-b:8702"
    assert sleeps == []


def test_a_write_that_never_left_fails_over_too() -> None:
    replicas = Replicas(sms_a=httpx.ConnectError, sms_b=200)
    client = sms(replicas, [])
    client._send("POST", "/v1/anything")
    assert replicas.seen == ["sms-a", "sms-b"]


@pytest.mark.parametrize("status", [502, 503])
def test_an_unavailable_replica_is_skipped_for_a_read(status: int) -> None:
    replicas = Replicas(sms_a=status, sms_b=200)
    sms(replicas, [])._send("GET", "/healthz")
    assert replicas.seen == ["sms-a", "sms-b"]


@pytest.mark.parametrize("answer", [503, httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_a_write_whose_outcome_is_unknown_is_never_sent_twice(answer: object) -> None:
    replicas = Replicas(sms_a=answer, sms_b=200)
    with pytest.raises(ServiceError) as caught:
        sms(replicas, [])._send("POST", "/v1/anything")
    assert replicas.seen == ["sms-a"]
    assert caught.value.code in ("SERVICE_BUSY", "SERVICE_UNREACHABLE")


def test_every_replica_down_backs_off_between_rounds_then_gives_up() -> None:
    replicas, sleeps = Replicas(sms_a=httpx.ConnectError, sms_b=httpx.ConnectError), []
    with pytest.raises(ServiceError) as caught:
        sms(replicas, sleeps)._send("GET", "/healthz")
    assert caught.value.code == "SERVICE_UNREACHABLE"
    assert replicas.seen == ["sms-a", "sms-b"] * 3  # retries=2: three rounds
    assert sleeps == [0.2, 0.4]


def test_one_url_keeps_the_old_retry_schedule() -> None:
    seen: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        raise httpx.ConnectError("down", request=request)

    sleeps: list[float] = []
    client = MarketClient("http://market:8704", http=httpx.Client(transport=httpx.MockTransport(refuse)))
    client._sleep = sleeps.append
    with pytest.raises(ServiceError):
        client._send("GET", "/v1/x")
    assert seen == ["market"] * 3
    assert sleeps == [0.2, 0.4]


def test_a_client_refuses_a_bad_list_before_any_request() -> None:
    with pytest.raises(ConfigError) as caught:
        SmsClient("http://sms-a:8702,,http://sms-b:8702")
    assert caught.value.code == "SERVICE_URL_INVALID"


def test_the_readiness_check_of_a_peer_passes_when_one_replica_answers() -> None:
    with pytest.raises(ConfigError):
        http_check("http://127.0.0.1:1,nope")
    with pytest.raises(httpx.HTTPError):
        http_check("http://127.0.0.1:1,http://127.0.0.1:2")()

    class Alive(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Alive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        http_check(f"http://127.0.0.1:1,http://127.0.0.1:{server.server_port}")()
    finally:
        server.shutdown()
        server.server_close()


def test_the_services_settings_take_a_list_and_refuse_a_bad_one(tmp_path: Path) -> None:
    hub = "0x" + "11" * 20
    worker = WorkerSettings(
        key="0x" + "22" * 32, work_dir=tmp_path, hub=hub, sms_url="http://a:1/, http://b:2"
    )
    assert worker.sms_url == "http://a:1,http://b:2"
    with pytest.raises(ConfigError) as caught:
        WorkerSettings(key="0x" + "22" * 32, work_dir=tmp_path, hub=hub, scheduler_url="http://a:1;rm")
    assert caught.value.code == "SERVICE_URL_INVALID"
    owner = {"workerpool": hub, "owner_key": "0x" + "22" * 32, "hub": hub, "allowed_workers": [hub]}
    assert SchedulerSettings(**owner, market_url=" ").market_url == ""
    assert (
        SchedulerSettings(**owner, market_url="http://m:1/,http://n:1").market_url == "http://m:1,http://n:1"
    )
    for field in ("sms_url", "market_url"):
        with pytest.raises(ConfigError) as caught:
            SchedulerSettings(**owner, **{field: "http://m:1,file:///etc"})
        assert caught.value.code == "SERVICE_URL_INVALID"


def test_the_cli_and_the_sdk_read_a_list_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ProjectConfig(path=tmp_path / "sealrun.toml", profile="x", wallet="w", wallet_dir=tmp_path)
    session = Session(config, chain_name="x")
    monkeypatch.setenv("SEALRUN_SMS_URL", "http://a:1/,http://b:2")
    assert session.service_url("sms") == "http://a:1,http://b:2"
    monkeypatch.setenv("SEALRUN_SMS_URL", "http://a:1,javascript:alert(1)")
    with pytest.raises(ConfigError) as caught:
        session.service_url("sms")
    assert caught.value.code == "SERVICE_URL_INVALID"
    connection = Connection.__new__(Connection)
    connection.services = {"market": "http://m:1/, http://n:1/"}
    assert connection.service_url("market") == "http://m:1,http://n:1"
    connection.services = {"market": "http://m:1 http://n:1"}
    with pytest.raises(ConfigError) as caught:
        connection.service_url("market")
    assert caught.value.code == "SERVICE_URL_INVALID"


def test_a_standby_refusal_moves_even_a_write_to_the_next_replica() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        if request.url.host == "sched-a":
            body = {
                "type": "about:blank",
                "title": "x",
                "status": 503,
                "code": "SERVICE_STANDBY",
                "detail": "x",
            }
            return httpx.Response(503, json=body, headers={"content-type": "application/problem+json"})
        return httpx.Response(200, json={})

    client = MarketClient(
        "http://sched-a,http://sched-b", http=httpx.Client(transport=httpx.MockTransport(answer))
    )
    client._send("POST", "/v1/workers/next")
    assert seen == ["sched-a", "sched-b"]


def test_a_standby_refusal_from_the_only_replica_is_raised_with_its_code() -> None:
    def answer(_request: httpx.Request) -> httpx.Response:
        body = {"type": "about:blank", "title": "x", "status": 503, "code": "SERVICE_STANDBY", "detail": "x"}
        return httpx.Response(503, json=body, headers={"content-type": "application/problem+json"})

    client = MarketClient("http://sched-a", http=httpx.Client(transport=httpx.MockTransport(answer)))
    client._sleep = lambda _s: None
    with pytest.raises(ServiceError) as caught:
        client._send("POST", "/v1/workers/next")
    assert caught.value.code == "SERVICE_STANDBY"


def test_a_post_its_client_marks_idempotent_is_resent_after_a_cut() -> None:
    replicas = Replicas(sms_a=httpx.RemoteProtocolError, sms_b=200)
    sms(replicas, [])._send("POST", "/v1/tasks/x/nonce", idempotent=True)
    assert replicas.seen == ["sms-a", "sms-b"]


def test_the_sms_client_resends_only_what_the_protocol_makes_harmless() -> None:
    task = b"\x01" * 32
    seen: list[tuple[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.url.path.rsplit("/", 1)[-1]))
        if request.url.host == "sms-a":
            raise httpx.RemoteProtocolError("cut", request=request)
        body = {"task_id": "0x" + task.hex(), "nonce": "0x" + "ab" * 32, "expires_at": 1}
        body["enclave_challenge"] = "0x" + "cd" * 20
        return httpx.Response(200, json=body)

    def client() -> SmsClient:
        made = SmsClient(TWO, domain=DOMAIN, http=httpx.Client(transport=httpx.MockTransport(answer)))
        made._sleep = lambda _s: None
        return made

    assert client().attestation_nonce(task) == b"\xab" * 32  # a fresh nonce: asked again
    assert client().enclave_challenge(b"\x07" * 32, task) == "0x" + "cd" * 20  # created once by the SMS
    assert [host for host, _ in seen] == ["sms-a", "sms-b", "sms-a", "sms-b"]
    seen.clear()
    with pytest.raises(ServiceError) as caught:  # a release cut in flight is never resent
        client()._send("POST", "/v1/tasks/x/release")
    assert caught.value.code == "SERVICE_UNREACHABLE"
    assert seen == [("sms-a", "release")]


def test_with_one_url_an_unavailable_answer_is_the_answer() -> None:
    seen: list[str] = []

    def busy(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        body = {"type": "about:blank", "title": "x", "status": 503, "code": "SERVICE_BUSY", "detail": "x"}
        return httpx.Response(503, json=body, headers={"content-type": "application/problem+json"})

    client = MarketClient("http://market:8704", http=httpx.Client(transport=httpx.MockTransport(busy)))
    with pytest.raises(ServiceError) as caught:
        client._send("GET", "/v1/x")
    assert caught.value.code == "SERVICE_BUSY"
    assert seen == ["market"]


def test_the_explorer_takes_one_url_per_service() -> None:
    hub = "0x" + "11" * 20
    settings = ExplorerSettings(rpc_url="http://chain:8545", hub=hub, market_url="http://m:1/")
    assert settings.market_url == "http://m:1"
    for field in ("scheduler_url", "market_url", "store_url", "sms_url"):
        with pytest.raises(ConfigError) as caught:
            ExplorerSettings(rpc_url="http://chain:8545", hub=hub, **{field: "http://a:1,http://b:1"})
        assert caught.value.code == "SERVICE_URL_INVALID"
