"""A quoting process apart from the enclave that asks for quotes, as a real quoting enclave is.

On TEE hardware the enclave cannot forge its own measurement: the CPU measures it and a
quoting enclave holds the attestation key. The simulated TEE keeps that boundary with two
processes joined by a socket pair:

- the *quoting side* (:func:`serve_quotes`) is the privileged parent: it measured the app
  bundle itself, then loaded the simulator key, which the enclave side never had in memory
  and cannot read (the key file is 0600, the enclave side runs as another uid);
- the *enclave side* (:class:`RemoteQuoter`) runs the task as the task's own uid. It may ask
  for evidence over any 64 bytes of report data, and always gets the measurement the quoting
  side took: it cannot choose another one.

Wire: one JSON object per line. The quoting side opens with ``{"v": 1, "tee": ...,
"measurement": hex}``; each request is ``{"report_data": hex}`` (64 bytes) and each answer
``{"evidence": <the evidence envelope>}`` or ``{"error": code, "message": ...}``.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import BinaryIO

from sealrun.adapters.tee.backend import Quoter
from sealrun.core.attestation import Evidence
from sealrun.core.jsontypes import JsonObject
from sealrun.errors import AttestationError, EnclaveError

__all__ = ["RemoteQuoter", "serve_quotes"]

_VERSION = 1
_MAX_LINE = 1 << 20
_REPORT_DATA_BYTES = 64


def _send(sock: socket.socket, message: JsonObject) -> None:
    sock.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")


def _receive(reader: BinaryIO) -> JsonObject | None:
    line = reader.readline(_MAX_LINE + 1)
    if not line:
        return None
    if len(line) > _MAX_LINE or not line.endswith(b"\n"):
        raise EnclaveError("the quoting channel sent an oversized line", code="QUOTE_CHANNEL_BROKEN")
    try:
        message = json.loads(line)
    except ValueError as error:
        raise EnclaveError("the quoting channel sent bad JSON", code="QUOTE_CHANNEL_BROKEN") from error
    if not isinstance(message, dict):
        raise EnclaveError("the quoting channel sent a non-object", code="QUOTE_CHANNEL_BROKEN")
    return message


def serve_quotes(sock: socket.socket, quoter: Quoter) -> int:
    """Answer quote requests on ``sock`` with ``quoter`` until the other side closes it.

    Bad requests are answered with an error and never end the service: the enclave side is
    the task's, and nothing it sends can make this side sign another measurement.

    Returns:
        How many pieces of evidence were produced.
    """
    served = 0
    with sock.makefile("rb") as reader:
        _send(sock, {"v": _VERSION, "tee": quoter.tee, "measurement": quoter.measurement.hex()})
        while True:
            try:
                request = _receive(reader)
            except EnclaveError as error:
                _send(sock, {"error": error.code, "message": error.message})
                return served
            if request is None:
                return served
            raw = request.get("report_data")
            try:
                data = bytes.fromhex(raw) if isinstance(raw, str) and raw.isascii() else b""
            except ValueError:
                data = b""
            if len(data) != _REPORT_DATA_BYTES:
                _send(
                    sock, {"error": "QUOTE_REQUEST_INVALID", "message": "report_data must be 64 bytes of hex"}
                )
                continue
            try:
                evidence = quoter.evidence(data)
            except (AttestationError, EnclaveError) as error:  # a hardware quoter's QUOTE_* codes
                _send(sock, {"error": error.code, "message": error.message})
                continue
            _send(sock, {"evidence": json.loads(evidence.to_json())})
            served += 1


@dataclass
class RemoteQuoter:
    """The enclave side's :class:`~sealrun.adapters.tee.Quoter`: asks the quoting process.

    Args:
        sock: the enclave's end of the socket pair.
    """

    sock: socket.socket = field(repr=False)
    tee: str = field(init=False, default="")
    measurement: bytes = field(init=False, default=b"")

    def __post_init__(self) -> None:
        self._reader = self.sock.makefile("rb")
        try:
            hello = self._next()
            measurement = hello.get("measurement")
            if hello.get("v") != _VERSION or not isinstance(measurement, str):
                raise EnclaveError("the quoting process speaks another protocol", code="QUOTE_CHANNEL_BROKEN")
            self.tee = str(hello.get("tee", ""))
            self.measurement = bytes.fromhex(measurement)
        except (EnclaveError, ValueError) as error:
            self._reader.close()
            if isinstance(error, EnclaveError):
                raise
            raise EnclaveError(
                "the quoting process sent a bad measurement", code="QUOTE_CHANNEL_BROKEN"
            ) from error

    def _next(self) -> JsonObject:
        message = _receive(self._reader)
        if message is None:
            raise EnclaveError("the quoting process is gone", code="QUOTE_CHANNEL_BROKEN")
        return message

    def evidence(self, report_data: bytes) -> Evidence:
        """Return evidence over ``report_data`` with the quoting side's measurement.

        Raises:
            AttestationError: the quoting side refused (its code).
            EnclaveError: ``QUOTE_CHANNEL_BROKEN`` if the quoting process is gone or garbled.
        """
        try:
            _send(self.sock, {"report_data": report_data.hex()})
            answer = self._next()
        except OSError as error:
            raise EnclaveError(
                f"the quoting process is gone: {error}", code="QUOTE_CHANNEL_BROKEN"
            ) from error
        if "evidence" in answer:
            return Evidence.from_json(json.dumps(answer["evidence"]).encode())
        raise AttestationError(
            str(answer.get("message", "refused")), code=str(answer.get("error", "QUOTE_REFUSED"))
        )

    def close(self) -> None:
        """Close the channel (the quoting side then ends)."""
        self._reader.close()
        self.sock.close()
