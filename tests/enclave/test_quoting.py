"""The quoting channel: the task side gets evidence for its report data, never for its own measurement."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from sealrun.adapters.tee import SimulatedQuoter
from sealrun.adapters.tee.quoting import RemoteQuoter, serve_quotes
from sealrun.core.attestation import Evidence, SimulatedVerifier, SimulatorKey
from sealrun.errors import EnclaveError

MEASURED = bytes(range(32))


def _serve(key: SimulatorKey) -> tuple[socket.socket, threading.Thread, list[int]]:
    server, client = socket.socketpair()
    served: list[int] = []

    def run() -> None:
        served.append(serve_quotes(server, SimulatedQuoter(key=key, measurement=MEASURED)))
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return client, thread, served


def test_evidence_carries_the_quoting_sides_measurement(simulator_key: SimulatorKey) -> None:
    client, thread, served = _serve(simulator_key)
    quoter = RemoteQuoter(client)
    assert quoter.measurement == MEASURED
    assert quoter.tee == "simulated"
    evidence = quoter.evidence(b"\x07" * 64)
    claims = SimulatedVerifier(simulator_key.public_key).verify(evidence, now=int(time.time()))
    assert claims.measurement == MEASURED
    assert claims.report_data == b"\x07" * 64
    quoter.close()
    thread.join(5)
    assert served == [1]


def test_a_request_cannot_name_another_measurement(simulator_key: SimulatorKey) -> None:
    client, thread, _served = _serve(simulator_key)
    reader = client.makefile("rb")
    reader.readline()  # hello
    client.sendall(json.dumps({"report_data": "00" * 64, "measurement": "ff" * 32}).encode() + b"\n")
    answer = json.loads(reader.readline())
    claims = SimulatedVerifier(simulator_key.public_key).verify(
        Evidence.from_json(json.dumps(answer["evidence"])),
        now=int(time.time()),
    )
    assert claims.measurement == MEASURED
    reader.close()
    client.close()
    thread.join(5)


@pytest.mark.parametrize("data", ["", "zz" * 64, "00" * 63, "00" * 65, "٠٠" * 64])
def test_bad_report_data_is_refused_and_the_channel_lives_on(simulator_key: SimulatorKey, data: str) -> None:
    client, thread, served = _serve(simulator_key)
    reader = client.makefile("rb")
    reader.readline()
    client.sendall(json.dumps({"report_data": data}).encode() + b"\n")
    assert json.loads(reader.readline())["error"] == "QUOTE_REQUEST_INVALID"
    client.sendall(json.dumps({"report_data": "11" * 64}).encode() + b"\n")
    assert "evidence" in json.loads(reader.readline())
    reader.close()
    client.close()
    thread.join(5)
    assert served == [1]


def test_garbage_ends_the_service_without_evidence(simulator_key: SimulatorKey) -> None:
    client, thread, served = _serve(simulator_key)
    reader = client.makefile("rb")
    reader.readline()
    client.sendall(b"[1, 2\n")
    assert json.loads(reader.readline())["error"] == "QUOTE_CHANNEL_BROKEN"
    thread.join(5)
    assert served == [0]
    reader.close()
    client.close()


def test_a_gone_quoting_side_is_a_coded_error() -> None:
    server, client = socket.socketpair()
    server.sendall(json.dumps({"v": 1, "tee": "simulated", "measurement": MEASURED.hex()}).encode() + b"\n")
    server.close()
    quoter = RemoteQuoter(client)
    with pytest.raises(EnclaveError) as caught:
        quoter.evidence(b"\x00" * 64)
    assert caught.value.code == "QUOTE_CHANNEL_BROKEN"
    quoter.close()


def test_a_quoting_side_of_another_protocol_is_refused() -> None:
    server, client = socket.socketpair()
    server.sendall(b'{"v": 2, "measurement": "00"}\n')
    with pytest.raises(EnclaveError) as caught:
        RemoteQuoter(client)
    assert caught.value.code == "QUOTE_CHANNEL_BROKEN"
    server.close()
    client.close()
