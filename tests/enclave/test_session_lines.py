"""The session enclave's task lines (decision 0080) are hostile input: any line is a task or
``ENCLAVE_TASK_INVALID``, never another exception."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from sealrun.enclave.sessionloop import _task
from sealrun.errors import EnclaveError

_VALID = {"task_id": "0x" + "11" * 32, "authorization": "0x" + "22" * 65, "work": "/tmp/w"}


def _outcome(line: str) -> str:
    try:
        _task(line)
    except EnclaveError as error:
        return error.code
    return "ok"


def test_a_valid_line_names_the_task() -> None:
    task, authorization, work = _task(json.dumps(_VALID))
    assert (task, authorization, str(work)) == (b"\x11" * 32, b"\x22" * 65, "/tmp/w")


@given(st.text(max_size=300))
def test_any_text_is_a_task_or_refused(line: str) -> None:
    assert _outcome(line) in ("ok", "ENCLAVE_TASK_INVALID")


@given(
    st.dictionaries(
        st.sampled_from(["task_id", "authorization", "work", "extra"]),
        st.one_of(st.text(max_size=140), st.integers(), st.none(), st.lists(st.integers(), max_size=2)),
    )
)
def test_any_object_is_a_task_or_refused(data: dict[str, object]) -> None:
    assert _outcome(json.dumps(data)) in ("ok", "ENCLAVE_TASK_INVALID")
    if set(data) != {"task_id", "authorization", "work"}:
        assert _outcome(json.dumps(data)) == "ENCLAVE_TASK_INVALID"
