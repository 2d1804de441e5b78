"""Serve an :class:`EmbeddedChain` over HTTP JSON-RPC (``sealrun chain serve``).

Requests go through web3's eth-tester formatting middleware (hex params → eth-tester's
Python values, tester results → JSON-RPC key names); the server then encodes every integer
of a result as a hex quantity and every byte string as ``0x`` hex, so any Ethereum client
(web3.py, ethers, cast, curl) understands it. Reverts are answered like geth does: error
code 3, ``execution reverted: <reason>``, and the ABI-encoded ``Error(string)`` as ``data``.

The server is threaded; the chain lock (see :mod:`.embedded`) serialises the EVM and turns a
wait longer than its timeout into an error answer instead of a hung client. Batches are
supported. Only loopback addresses are bound by default.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, NotRequired, TypedDict

from eth_abi import encode
from eth_tester.exceptions import TransactionFailed, ValidationError
from eth_utils import ValidationError as EvmValidationError
from web3.types import RPCEndpoint, RPCError

from sealrun.adapters.localchain.embedded import EmbeddedChain
from sealrun.core.jsontypes import JsonValue
from sealrun.errors import ChainError

__all__ = ["ChainServer"]

_MAX_BODY = 8 * 1024 * 1024
_ERROR_SELECTOR = bytes.fromhex("08c379a0")
# Methods whose trailing block parameter is optional on the wire (nodes default to "latest")
# but required by web3's eth-tester formatters: the position it goes in.
_BLOCK_PARAM = {
    "eth_call": 1,
    "eth_getBalance": 1,
    "eth_getCode": 1,
    "eth_getTransactionCount": 1,
    "eth_getStorageAt": 2,
}


class RpcAnswer(TypedDict):
    """One JSON-RPC 2.0 answer: a ``result`` or an ``error``, with the call's ``id`` echoed."""

    jsonrpc: Literal["2.0"]
    id: JsonValue
    result: NotRequired[JsonValue]
    error: NotRequired[RPCError]


def to_json_rpc(value: object) -> JsonValue:
    """Encode a result the JSON-RPC way: integers as hex quantities, bytes as 0x hex."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): to_json_rpc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_rpc(v) for v in value]
    return str(value)


class ChainServer:
    """A threaded HTTP JSON-RPC server over one embedded chain.

    Args:
        chain: the chain to serve.
        host: the address to bind (loopback by default).
        port: the port (0 picks a free one; read :attr:`url` after :meth:`start`).
    """

    def __init__(self, chain: EmbeddedChain, *, host: str = "127.0.0.1", port: int = 8545) -> None:
        self.chain = chain
        self._request = chain.request_function()
        handler = _handler_for(self)
        try:
            self._httpd = ThreadingHTTPServer((host, port), handler)
        except OSError as error:
            raise ChainError(
                f"cannot listen on {host}:{port}: {error.strerror}", code="CHAIN_SERVE_FAILED"
            ) from error
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's URL, e.g. ``http://127.0.0.1:8545``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ChainServer:
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="chain-rpc", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` (or KeyboardInterrupt)."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def answer(self, call: JsonValue) -> RpcAnswer:  # noqa: PLR0911 (one answer per failure kind)
        """Answer one JSON-RPC call object."""
        method = call.get("method") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(method, str):
            return _error(None, -32600, "invalid request")
        ident = call.get("id")
        params = call.get("params", [])
        if not isinstance(params, list):
            return _error(ident, -32602, "params must be a list")
        position = _BLOCK_PARAM.get(method)
        if position is not None and len(params) == position:
            params = [*params, "latest"]
        try:
            response = self._request(RPCEndpoint(method), params)
        except TransactionFailed as failure:
            message = str(failure.args[0]) if failure.args else "execution reverted"
            reason = message.removeprefix("execution reverted: ")
            data = "0x" + (_ERROR_SELECTOR + encode(["string"], [reason])).hex()
            return _error(ident, 3, f"execution reverted: {reason}", data)
        except ChainError as busy:
            return _error(ident, -32000, busy.message)
        except (ValidationError, EvmValidationError, ValueError, TypeError, KeyError, IndexError) as invalid:
            return _error(ident, -32000, f"{type(invalid).__name__}: {invalid}")
        if "error" in response:
            error = response["error"]
            message = error.get("message", "error") if isinstance(error, dict) else str(error)
            return _error(ident, -32601, str(message))
        return {"jsonrpc": "2.0", "id": ident, "result": to_json_rpc(response.get("result"))}


def _error(ident: JsonValue, code: int, message: str, data: str | None = None) -> RpcAnswer:
    error: RPCError = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": ident, "error": error}


def _handler_for(server: ChainServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle's algorithm and the client's delayed
        # ACK that costs ~40 ms per request on a kept-alive connection.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > _MAX_BODY:
                self._send(400, _error(None, -32600, "missing or oversized body"))
                return
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                self._send(400, _error(None, -32700, "parse error"))
                return
            if isinstance(body, list):
                self._send(200, [server.answer(call) for call in body])
            else:
                self._send(200, server.answer(body))

        def _send(self, status: int, payload: RpcAnswer | list[RpcAnswer]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002 (stdlib signature)
            # Quiet by default: one line per request would drown the user's terminal.
            return

    return Handler
