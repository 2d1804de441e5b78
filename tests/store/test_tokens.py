"""The per-task result upload token: minting, verification, forgery and expiry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.core.uploads import mint_upload_token, verify_upload_token
from sealrun.errors import StorageError

KEY = b"s" * 32
TASK = bytes(range(32))


def test_round_trip_names_the_task_and_expiry() -> None:
    token = mint_upload_token(KEY, TASK, expires_at=2000)
    grant = verify_upload_token(KEY, token, now=1999)
    assert grant.task_id == TASK
    assert grant.expires_at == 2000


def test_expired_token_is_refused() -> None:
    token = mint_upload_token(KEY, TASK, expires_at=2000)
    with pytest.raises(StorageError) as caught:
        verify_upload_token(KEY, token, now=2000)
    assert caught.value.code == "UPLOAD_TOKEN_EXPIRED"


def test_token_under_another_key_is_forged() -> None:
    token = mint_upload_token(b"x" * 32, TASK, expires_at=2000)
    with pytest.raises(StorageError) as caught:
        verify_upload_token(KEY, token, now=1)
    assert caught.value.code == "UPLOAD_TOKEN_INVALID"


@pytest.mark.parametrize("field", [1, 2])
def test_changing_task_or_expiry_breaks_the_mac(field: int) -> None:
    parts = mint_upload_token(KEY, TASK, expires_at=2000).split(".")
    parts[field] = "ff" * 32 if field == 1 else "99999"
    with pytest.raises(StorageError) as caught:
        verify_upload_token(KEY, ".".join(parts), now=1)
    assert caught.value.code == "UPLOAD_TOKEN_INVALID"


def test_weak_key_is_refused() -> None:
    with pytest.raises(StorageError) as caught:
        mint_upload_token(b"short", TASK, expires_at=2000)
    assert caught.value.code == "UPLOAD_TOKEN_KEY_WEAK"


@given(st.text(max_size=200))
def test_any_string_is_refused_with_a_storage_error(token: str) -> None:
    with pytest.raises(StorageError):
        verify_upload_token(KEY, token, now=1)


@given(st.integers(min_value=0, max_value=130))
def test_every_truncation_is_refused(cut: int) -> None:
    token = mint_upload_token(KEY, TASK, expires_at=2000)
    if cut >= len(token):
        return
    with pytest.raises(StorageError):
        verify_upload_token(KEY, token[:cut], now=1)
