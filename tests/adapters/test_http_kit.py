"""The client kit: problem translation, answers checked against the api models, retries,
request signing as an ``httpx.Auth``, and no web framework loaded by any client."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from sealrun.adapters.http.market import MarketClient
from sealrun.adapters.http.scheduler import SchedulerClient
from sealrun.adapters.http.signing import CONTENT_ADDRESSED, SignedRequestAuth
from sealrun.adapters.http.sms import SmsClient
from sealrun.adapters.http.store import StoreClient
from sealrun.api.signing import parse_signature_headers, request_action
from sealrun.core.requests import RequestDomain, recover_request_signer
from sealrun.core.tasks import address_of
from sealrun.errors import AttestationError, OrderError, RequestError, SecretError, ServiceError, StorageError

KEY = b"\x07" * 32
DOMAIN = RequestDomain(chain_id=31337, hub="0x5FbDB2315678afecb367f032d93F642f64180aa3")
DATASET = "0x" + "ab" * 20


def problem(status: int, code: str) -> httpx.Response:
    body = {"type": "about:blank", "title": "x", "status": status, "code": code, "detail": f"it is {code}"}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def over(handler: httpx.MockTransport) -> httpx.Client:
    return httpx.Client(transport=handler)


def test_importing_every_client_loads_no_web_framework() -> None:
    code = (
        "import sys; import sealrun.adapters.http.sms, sealrun.adapters.http.store, "
        "sealrun.adapters.http.market, sealrun.adapters.http.scheduler, sealrun.api.sms, "
        "sealrun.api.store, sealrun.api.market, sealrun.api.scheduler; "
        "loaded = [m for m in sys.modules if m.startswith(('fastapi', 'starlette'))]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("code", "family"),
    [
        ("SECRET_NOT_OWNER", SecretError),
        ("REQUEST_REPLAYED", RequestError),
        ("ATTEST_DEBUG", AttestationError),
        ("SERVICE_BUSY", ServiceError),
    ],
)
def test_a_problem_comes_back_as_its_code_in_its_family(code: str, family: type[Exception]) -> None:
    client = SmsClient("http://sms", http=over(httpx.MockTransport(lambda _r: problem(403, code))))
    with pytest.raises(family) as caught:
        client.health()
    assert caught.value.code == code  # type: ignore[attr-defined]


def test_an_error_that_is_not_a_problem_keeps_the_default_code() -> None:
    client = MarketClient(
        "http://market", http=over(httpx.MockTransport(lambda _r: httpx.Response(502, text="bad gw")))
    )
    with pytest.raises(ServiceError) as caught:
        client.order("0x" + "00" * 32)
    assert caught.value.code == "SERVICE_ERROR"
    orders = MarketClient(
        "http://market", http=over(httpx.MockTransport(lambda _r: problem(404, "ORDER_NOT_FOUND")))
    )
    with pytest.raises(OrderError):
        orders.order("0x" + "00" * 32)


def test_an_answer_off_the_contract_is_a_code_not_a_keyerror() -> None:
    client = SmsClient(
        "http://sms", http=over(httpx.MockTransport(lambda _r: httpx.Response(200, json={"nope": 1})))
    )
    with pytest.raises(ServiceError) as caught:
        client.health()
    assert caught.value.code == "SERVICE_BAD_ANSWER"


def test_a_request_that_never_left_is_retried_then_reported_with_the_services_code() -> None:
    calls: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ConnectError("refused", request=request)

    waits: list[float] = []
    store = StoreClient("http://store", http=over(httpx.MockTransport(refuse)))
    store._sleep = waits.append  # type: ignore[method-assign]
    with pytest.raises(StorageError) as caught:
        store.head("00" * 32)
    assert caught.value.code == "STORAGE_UNREACHABLE"
    assert calls == ["HEAD"] * 3
    assert waits == [0.2, 0.4]


def test_a_write_that_may_have_arrived_is_not_sent_twice() -> None:
    calls: list[str] = []

    def time_out(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ReadTimeout("slow", request=request)

    scheduler = SchedulerClient(
        "http://scheduler", key=KEY, domain=DOMAIN, http=over(httpx.MockTransport(time_out))
    )
    with pytest.raises(ServiceError) as caught:
        scheduler.register(slots=1, tee="simulated", holding=[])
    assert caught.value.code == "SCHEDULER_UNREACHABLE"
    assert calls == ["POST"]


def test_the_auth_signs_method_path_query_and_body() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"requester": DATASET, "secrets": []})

    auth = SignedRequestAuth(KEY, DOMAIN, clock=lambda: 1_700_000_000)
    http = over(httpx.MockTransport(record))
    http.put("http://x/v1/a/b?c=1", content=b'{"v":1}', auth=auth)
    http.put("http://x/v1/blobs/ff", content=b"big bytes", auth=auth, extensions={CONTENT_ADDRESSED: True})
    signed, blob = seen
    recovered = recover_request_signer(
        DOMAIN, action=request_action("PUT", "/v1/a/b", "c=1"), body=b'{"v":1}',
        signed=parse_signature_headers(signed.headers),
    )  # fmt: skip
    assert recovered == address_of(KEY) == auth.address
    assert recover_request_signer(
        DOMAIN, action="PUT /v1/blobs/ff", body=b"", signed=parse_signature_headers(blob.headers)
    ) == address_of(KEY)
    # Each send is signed afresh: a retry is never a replay of itself.
    assert signed.headers["sealrun-nonce"] != blob.headers["sealrun-nonce"]


def test_signed_sms_calls_carry_the_json_body_they_signed() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"subject": DATASET, "owner": address_of(KEY), "updated_at": 1})

    client = SmsClient("http://sms", domain=DOMAIN, http=over(httpx.MockTransport(record)))
    status = client.push_dataset_key(KEY, DATASET, "AGE-SECRET-KEY-1XYZ")
    assert status.owner == address_of(KEY)
    (request,) = seen
    assert json.loads(request.content) == {"key": "AGE-SECRET-KEY-1XYZ"}
    signer = recover_request_signer(
        DOMAIN, action=f"PUT /v1/datasets/{DATASET}/key", body=request.content,
        signed=parse_signature_headers(request.headers),
    )  # fmt: skip
    assert signer == address_of(KEY)
