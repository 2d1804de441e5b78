"""The embedded chain's journal: exact replay, torn tails, tampering, parsing.

A journaled chain replayed from its file must be the same chain (head hash, balances, nonces,
timestamps, events); a crash's torn last line is dropped; any other damage is refused with a
code; record parsing never fails with anything but ``CHAIN_JOURNAL_CORRUPT``.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3

from sealrun.adapters.chain.compiled import revert_table
from sealrun.adapters.chain.deploy import deploy_marketplace, fund_accounts
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.chain.transactions import TransactionSender
from sealrun.adapters.localchain.anvil import free_port
from sealrun.adapters.localchain.embedded import EmbeddedChain
from sealrun.adapters.localchain.journal import (
    ChainJournal,
    decode_value,
    encode_value,
    parse_record,
    read_journal,
)
from sealrun.errors import ChainError

REPO = Path(__file__).resolve().parents[2]
SEALRUN = REPO / ".venv" / "bin" / "sealrun"
FUNDED = Web3.to_checksum_address("0x00000000000000000000000000000000000000aa")


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _busy_chain(path: Path, clock: Clock) -> tuple[EmbeddedChain, dict[str, object]]:
    """A journaled chain with the marketplace deployed, accounts funded, time travelled."""
    chain = EmbeddedChain(journal=path, clock=clock)
    rpc = Rpc(chain.web3(), url="embedded", reverts=revert_table())
    deployer = TransactionSender(rpc, None, node_account=chain.accounts[0])
    deployment = deploy_marketplace(deployer)
    clock.now += 3600  # an hour idle: the next block is stamped with the new time
    fund_accounts(deployer, deployment.token, [FUNDED], ether=10**18, tokens=10**9)
    w3 = chain.web3()
    w3.provider.make_request("evm_increaseTime", [120])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    return chain, _facts(chain, deployment.hub, deployment.token)


def _facts(chain: EmbeddedChain, hub: str, token: str) -> dict[str, object]:
    w3 = chain.web3()
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": token})  # type: ignore[typeddict-item]
    return {
        "head": chain.head,
        "balance": w3.eth.get_balance(FUNDED),
        "nonce": w3.eth.get_transaction_count(chain.accounts[0]),  # type: ignore[arg-type]
        "timestamps": [w3.eth.get_block(n)["timestamp"] for n in range(chain.head[0] + 1)],
        "logs": [(log["transactionHash"].hex(), log["logIndex"], log["data"].hex()) for log in logs],
        "hub_code": w3.eth.get_code(hub).hex(),  # type: ignore[arg-type]
        "hub": hub,
        "token": token,
    }


def test_replay_restores_the_same_chain(tmp_path: Path) -> None:
    path = tmp_path / "chain" / "journal.jsonl"
    clock = Clock()
    chain, before = _busy_chain(path, clock)
    chain.close()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    clock.now += 86_400  # a day later, a different wall clock: the replay must not care
    again = EmbeddedChain(journal=path, clock=clock)
    after = _facts(again, str(before["hub"]), str(before["token"]))
    assert after == before
    assert again.replayed == len(read_journal(path.read_bytes()).records)
    # The hour of idling is in the chain: block timestamps follow the wall clock, not the
    # time the previous block was mined.
    stamps = before["timestamps"]
    assert isinstance(stamps, list)
    assert max(b - a for a, b in itertools.pairwise(stamps)) > 3500
    # The resumed chain goes on: a new transaction lands after the replayed head.
    w3 = again.web3()
    w3.eth.send_transaction({"from": again.accounts[1], "to": FUNDED, "value": 1})  # type: ignore[typeddict-item]
    assert again.head[0] == before["head"][0] + 1  # type: ignore[index]
    again.close()
    third = EmbeddedChain(journal=path, clock=clock)
    assert third.head == again.head
    third.close()


def test_a_torn_last_record_is_dropped_and_appending_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    chain, before = _busy_chain(path, Clock())
    chain.close()
    whole = path.read_bytes()
    last = whole.rstrip(b"\n").rsplit(b"\n", 1)[1]
    for tail in (last[: len(last) // 2], b"\0" * 512, last[:10] + b"\0" * 40):
        path.write_bytes(whole + tail)
        again = EmbeddedChain(journal=path, clock=Clock())
        assert again.head == before["head"]
        again.close()
        assert path.read_bytes() == whole  # the torn tail was cut before anything was appended
    # A crash that tore the last real record: the chain restarts one record earlier.
    path.write_bytes(whole[: len(whole) - len(last) // 2 - 1])
    again = EmbeddedChain(journal=path, clock=Clock())
    assert again.head[0] == before["head"][0] - 1  # type: ignore[index]
    again.close()


def test_an_edited_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    chain, _ = _busy_chain(path, Clock())
    chain.close()
    lines = path.read_bytes().split(b"\n")
    record = json.loads(lines[3])
    record["timestamp"] += 1
    lines[3] = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ChainError) as caught:
        EmbeddedChain(journal=path)
    assert caught.value.code == "CHAIN_JOURNAL_CORRUPT"
    assert "line 4" in caught.value.message
    # A removed record breaks the chain of links too.
    path.write_bytes(b"\n".join(lines[:3] + lines[4:]))
    with pytest.raises(ChainError) as caught:
        EmbeddedChain(journal=path)
    assert caught.value.code == "CHAIN_JOURNAL_CORRUPT"


def test_a_relinked_forgery_is_refused_by_the_replay(tmp_path: Path) -> None:
    """Whoever recomputes the links still cannot make the replay reach another head."""
    path = tmp_path / "journal.jsonl"
    chain, _ = _busy_chain(path, Clock())
    chain.close()
    contents = read_journal(path.read_bytes())
    forged = tmp_path / "forged.jsonl"
    journal = ChainJournal.open(forged, genesis_timestamp=contents.genesis_timestamp or 0)
    for record in contents.records:
        stamp = record.timestamp + (7 if record.seq == 5 else 0)
        journal.append(
            method=record.method,
            params=decode_value(record.params),
            timestamp=stamp,
            result=decode_value(record.result),
            error=record.error,
            block=record.block,
            head=record.head,
        )
    journal.close()
    with pytest.raises(ChainError) as caught:
        EmbeddedChain(journal=forged)
    assert caught.value.code == "CHAIN_JOURNAL_MISMATCH"
    assert "record 5" in caught.value.message


def test_one_chain_process_per_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    first = EmbeddedChain(journal=path)
    with pytest.raises(ChainError) as caught:
        EmbeddedChain(journal=path)
    assert caught.value.code == "CHAIN_JOURNAL_LOCKED"
    first.close()
    EmbeddedChain(journal=path).close()


def test_a_bad_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b'{"format":"something-else","version":1,"genesis_timestamp":1,"link":"x"}\n')
    with pytest.raises(ChainError) as caught:
        EmbeddedChain(journal=path)
    assert caught.value.code == "CHAIN_JOURNAL_CORRUPT"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _code_of(action: Callable[[], object]) -> str | None:
    """The code of the ChainError ``action`` raises, or None; anything else propagates."""
    try:
        action()
    except ChainError as error:
        return error.code
    return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_record_parsing_fails_only_with_its_code(raw: bytes) -> None:
    assert _code_of(lambda: parse_record(raw, previous="", seq=1)) in (None, "CHAIN_JOURNAL_CORRUPT")
    assert _code_of(lambda: read_journal(raw)) in (None, "CHAIN_JOURNAL_CORRUPT")


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "seq": st.integers(min_value=-2, max_value=3),
            "method": st.sampled_from(["eth_sendRawTransaction", "evm_mine", "eth_call", ""]),
            "params": _JSON,
            "timestamp": st.integers(min_value=-1) | st.text(max_size=3),
            "result": _JSON,
            "error": st.none() | st.text(max_size=5) | st.integers(),
            "block": st.integers(min_value=-1) | st.booleans(),
            "head": st.just("0x" + "ab" * 32) | st.text(max_size=4),
            "link": st.text(max_size=64),
        }
    )
)
def test_hostile_record_fields_fail_only_with_its_code(record: dict[str, object]) -> None:
    raw = json.dumps(encode_value(record)).encode()
    assert _code_of(lambda: parse_record(raw, previous="", seq=1)) in (None, "CHAIN_JOURNAL_CORRUPT")


@given(_JSON)
def test_values_round_trip_through_the_journal_encoding(value: object) -> None:
    encoded = encode_value(value)
    assert json.loads(json.dumps(encoded)) == encoded
    assert encode_value(decode_value(encoded)) == encoded


def _rpc(url: str, method: str, params: list[object]) -> object:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=10)
    return answer.json()["result"]


def _serve(journal: Path, config: Path, port: int) -> subprocess.Popen[bytes]:
    argv = [
        str(SEALRUN),
        "chain",
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
        "--journal",
        str(journal),
    ]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=config.parent)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _rpc(f"http://127.0.0.1:{port}", "eth_chainId", [])
            return process
        except (httpx.HTTPError, KeyError):
            time.sleep(0.2)
    process.kill()
    raise AssertionError("chain serve did not answer")


def test_a_served_chain_survives_kill_9(tmp_path: Path) -> None:
    subprocess.run([str(SEALRUN), "init", "--json"], cwd=tmp_path, check=True, capture_output=True)
    config, journal, port = tmp_path / "sealrun.toml", tmp_path / "chain" / "journal.jsonl", free_port()
    url = f"http://127.0.0.1:{port}"
    process = _serve(journal, config, port)
    try:
        sender = str(_rpc(url, "eth_accounts", [])[0])  # type: ignore[index]
        hashes = [
            _rpc(
                url,
                "eth_sendTransaction",
                [{"from": sender, "to": FUNDED, "value": hex(n + 1), "gas": "0x5208"}],
            )
            for n in range(5)
        ]
        head = _rpc(url, "eth_getBlockByNumber", ["latest", False])
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    process = _serve(journal, config, port)
    try:
        assert _rpc(url, "eth_getBlockByNumber", ["latest", False]) == head
        assert _rpc(url, "eth_getBalance", [FUNDED, "latest"]) == hex(15)
        receipt = _rpc(url, "eth_getTransactionReceipt", [hashes[2]])
        assert isinstance(receipt, dict)
        assert receipt["status"] == "0x1"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
