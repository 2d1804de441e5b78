"""Clients turn a service's problem+json answer back into the same code and family."""

from __future__ import annotations

import httpx
import pytest

from sealrun.adapters.http.problems import raise_for_problem
from sealrun.errors import RequestError, SealrunError, ServiceError, StorageError

FAMILIES: dict[str, type[SealrunError]] = {"REQUEST_": RequestError}


def _answer(status: int, **kwargs: object) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", "http://svc/x"), **kwargs)  # type: ignore[arg-type]


def test_success_passes() -> None:
    raise_for_problem(_answer(200, json={}), service="svc", default=ServiceError)


def test_the_code_and_its_family_come_back() -> None:
    problem = {"code": "REQUEST_REPLAYED", "detail": "this request was already used"}
    with pytest.raises(RequestError) as caught:
        raise_for_problem(_answer(409, json=problem), service="svc", default=ServiceError, families=FAMILIES)
    assert caught.value.code == "REQUEST_REPLAYED"
    assert caught.value.message == "svc answered 409: this request was already used"


@pytest.mark.parametrize(
    "answer",
    [
        _answer(502, text="<html>bad gateway</html>"),  # not JSON
        _answer(500, json=["not", "an", "object"]),  # JSON, not a problem document
        _answer(500, json={"detail": "no code"}),
    ],
)
def test_answers_without_a_code_get_the_default(answer: httpx.Response) -> None:
    with pytest.raises(StorageError) as caught:
        raise_for_problem(answer, service="store", default=StorageError, default_code="STORAGE_ERROR")
    assert caught.value.code == "STORAGE_ERROR"
    assert caught.value.message.startswith(f"store answered {answer.status_code}: ")
