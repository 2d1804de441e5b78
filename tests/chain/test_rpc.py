"""The JSON-RPC layer: retries, unreachable nodes, the embedded server's wire format, anvil."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_abi import decode
from web3.exceptions import ContractLogicError

from sealrun.adapters.chain.events import SqlCheckpoint
from sealrun.adapters.chain.reverts import RevertTable, reason_of
from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.db import create_database_engine
from sealrun.adapters.localchain.anvil import AnvilNode, find_anvil, free_port
from sealrun.adapters.localchain.embedded import EmbeddedChain
from sealrun.adapters.localchain.server import ChainServer
from sealrun.errors import ChainError


@pytest.fixture(scope="module")
def served() -> Iterator[ChainServer]:
    server = ChainServer(EmbeddedChain(lock_timeout=0.3), port=0).start()
    yield server
    server.stop()


def call(url: str, payload: Any) -> Any:
    return httpx.post(url, json=payload, timeout=30).json()


def test_an_unreachable_node_is_reported_as_such_after_retries() -> None:
    naps: list[float] = []
    rpc = Rpc.connect(f"http://127.0.0.1:{free_port()}", timeout=2)
    rpc._sleep = naps.append  # type: ignore[method-assign]
    with pytest.raises(ChainError) as caught:
        _ = rpc.chain_id
    assert caught.value.code == "CHAIN_UNREACHABLE"
    assert "unreachable" in caught.value.message
    assert naps == [0.25, 0.5, 1.0]  # three retries with backoff, then the verdict


class Flaky(BaseHTTPRequestHandler):
    failures = 2

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if Flaky.failures > 0:
            Flaky.failures -= 1
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": "0x7a69"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


def test_transient_http_errors_are_retried() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        naps: list[float] = []
        rpc = Rpc.connect(f"http://127.0.0.1:{httpd.server_address[1]}")
        rpc._sleep = naps.append  # type: ignore[method-assign]
        assert rpc.chain_id == 31337
        assert naps == [0.25, 0.5]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_server_answers_quantities_in_hex_and_batches(served: ChainServer) -> None:
    answer = call(served.url, {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    assert answer == {"jsonrpc": "2.0", "id": 1, "result": hex(131277322940537)}
    accounts = call(served.url, {"jsonrpc": "2.0", "id": 2, "method": "eth_accounts", "params": []})["result"]
    batch = call(
        served.url,
        [
            {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": [accounts[0], "latest"]},
            {"jsonrpc": "2.0", "id": 4, "method": "eth_getBlockByNumber", "params": ["0x0", False]},
            {"jsonrpc": "2.0", "id": 5, "method": "eth_nothing", "params": []},
        ],
    )
    assert batch[0]["result"].startswith("0x")
    int(batch[0]["result"], 16)
    block = batch[1]["result"]
    assert block["number"] == "0x0"
    assert block["gasLimit"].startswith("0x")
    assert batch[2]["error"]["code"] == -32601


def test_the_server_rejects_garbage(served: ChainServer) -> None:
    response = httpx.post(served.url, content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700
    assert call(served.url, {"id": 1})["error"]["code"] == -32600


def test_reverts_carry_the_reason_as_error_data(served: ChainServer) -> None:
    from sealrun.adapters.chain.compiled import compiled
    from sealrun.adapters.chain.deploy import TOKEN_DECIMALS, TOKEN_NAME, TOKEN_SYMBOL
    from sealrun.adapters.chain.rpc import http_web3

    w3 = http_web3(served.url)
    token = compiled("Token")
    tx = w3.eth.contract(abi=token.abi, bytecode=token.bytecode).constructor(
        TOKEN_NAME, TOKEN_SYMBOL, TOKEN_DECIMALS
    )
    address = w3.eth.wait_for_transaction_receipt(tx.transact({"from": w3.eth.accounts[0]}))[
        "contractAddress"
    ]
    data = w3.eth.contract(address=address, abi=token.abi).encode_abi(
        "transfer", args=[w3.eth.accounts[1], 5]
    )
    answer = call(
        served.url,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "eth_call",
            "params": [{"from": w3.eth.accounts[1], "to": address, "data": data}],
        },
    )
    error = answer["error"]
    assert error["code"] == 3
    assert error["message"] == "execution reverted: token: balance too low"
    assert decode(["string"], bytes.fromhex(error["data"][10:]))[0] == "token: balance too low"
    with pytest.raises(ContractLogicError, match="balance too low"):  # and web3 over HTTP understands it
        w3.eth.call({"from": w3.eth.accounts[1], "to": address, "data": data})


def test_a_busy_chain_answers_an_error_instead_of_hanging(served: ChainServer) -> None:
    with served.chain.locked():
        answer = call(served.url, {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})
    assert "busy" in answer["error"]["message"]
    assert call(served.url, {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []})["result"]


def test_revert_table_words_known_and_unknown_reasons(tmp_path: Path) -> None:
    path = tmp_path / "reasons.json"
    path.write_text(
        json.dumps({"reasons": {"category-mismatch": {"code": "ORDER_CATEGORY_MISMATCH", "sentence": "s"}}})
    )
    table = RevertTable.load(path)
    known = table.translate(
        ContractLogicError("execution reverted: category-mismatch"),
        what="match",
        context={"request_category": 2, "workerpool_category": 1},
    )
    assert known.code == "ORDER_CATEGORY_MISMATCH"
    assert known.message == "cannot match: request category 2 ≠ workerpool category 1 (s)"
    assert (
        table.translate(
            ContractLogicError("execution reverted: category-mismatch"), what="m", context={}
        ).message
        == "cannot m: s"
    )
    unknown = table.translate(ContractLogicError("execution reverted: odd"), what="x", context={})
    assert (unknown.code, unknown.message) == ("CHAIN_REVERTED", "cannot x: the contract refused (odd)")
    assert (
        reason_of(
            ContractLogicError(
                "execution reverted",
                data="0x08c379a0"
                + (bytes(31) + b"\x20" + bytes(31) + b"\x02" + b"hi".ljust(32, b"\0")).hex(),
            )
        )
        == "hi"
    )
    (tmp_path / "bad.json").write_text("[1, 2")
    with pytest.raises(ChainError):
        RevertTable.load(tmp_path / "bad.json")


def test_sql_checkpoints_persist(sql_url: str) -> None:
    engine = create_database_engine(sql_url)
    first = SqlCheckpoint(engine)
    assert first.load("s") is None
    first.save("s", 10)
    first.save("s", 12)
    first.save("other", 3)
    engine.dispose()
    engine = create_database_engine(sql_url)  # a restarted reader, on a new connection pool
    assert SqlCheckpoint(engine).load("s") == 12
    assert SqlCheckpoint(engine).load("other") == 3
    assert SqlCheckpoint(engine).load("never") is None
    engine.dispose()


def test_find_anvil_reports_a_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(ChainError) as caught:
        find_anvil(explicit=str(tmp_path / "anvil"))
    assert caught.value.code == "ANVIL_NOT_FOUND"


@pytest.mark.anvil
def test_anvil_starts_on_a_free_port_and_stops(anvil_binary: Path) -> None:
    with AnvilNode(anvil_binary) as node:
        assert Rpc.connect(node.url).chain_id == 31337
        url = node.url
    rpc = Rpc.connect(url, timeout=2)
    rpc._sleep = lambda _s: None  # type: ignore[method-assign]
    with pytest.raises(ChainError) as caught:
        rpc.run("read the block number", lambda: rpc.w3.eth.block_number)
    assert caught.value.code == "CHAIN_UNREACHABLE"
