"""The audit chain under tampering and concurrency; hostile signature headers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealrun.api.signing import parse_signature_headers
from sealrun.core.attestation import SimulatorKey
from sealrun.errors import RequestError, SecretError
from sealrun.services.sms.audit import AuditFacts, verify_audit_chain
from sealrun.services.sms.usecases import SmsUseCases
from tests.sms.conftest import PG_URL, make_settings


def _append_many(sms: SmsUseCases, writers: int, each: int) -> None:
    def write(worker: int) -> None:
        for index in range(each):
            sms.audit(
                AuditFacts(event="refusal", code="TEST", detail=f"{worker}/{index}", dataset="0x" + "d5" * 20)
            )

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))


def test_tampering_with_any_record_breaks_the_chain(sms: SmsUseCases) -> None:
    _append_many(sms, 1, 5)
    records = sms.repository.audit_records()
    assert verify_audit_chain(records) == records[-1].entry_hash
    for index in range(len(records)):
        edited = list(records)
        edited[index] = replace(records[index], detail="nothing happened")
        with pytest.raises(SecretError) as caught:
            verify_audit_chain(edited)
        assert caught.value.code == "AUDIT_CHAIN_BROKEN"
    with pytest.raises(SecretError):
        verify_audit_chain(records[:2] + records[3:])  # a deleted record


def test_concurrent_appends_on_sqlite_keep_one_chain(sms: SmsUseCases) -> None:
    _append_many(sms, 4, 5)
    records = sms.repository.audit_records()
    assert [r.seq for r in records] == list(range(1, 21))
    verify_audit_chain(records)


@pytest.mark.postgres
def test_concurrent_appends_from_two_processes_worth_of_use_cases_on_postgres(
    tmp_path: Path, simulator: SimulatorKey, build: Any, pg_schema: str
) -> None:
    settings = make_settings(tmp_path, simulator, database_url=PG_URL, database_schema=pg_schema)
    first, second = build(settings), build(settings)  # two engines: two "servers" on one database
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda sms: _append_many(sms, 3, 4), (first, second)))
    records = first.repository.audit_records()
    assert [r.seq for r in records] == list(range(1, 25))
    verify_audit_chain(records)


HEADER_NAMES = st.sampled_from(["Sealrun-Timestamp", "Sealrun-Nonce", "Sealrun-Signature", "x"])


def _outcome(headers: dict[str, str]) -> str:
    try:
        parse_signature_headers(headers)
    except RequestError as error:
        return error.code
    return "parsed"


@given(headers=st.dictionaries(HEADER_NAMES, st.text(max_size=200)))
@settings(max_examples=200, deadline=None)
def test_hostile_signature_headers_only_raise_request_errors(headers: dict[str, str]) -> None:
    assert _outcome(headers) in {"parsed", "REQUEST_UNSIGNED", "REQUEST_MALFORMED"}
