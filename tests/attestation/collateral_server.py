"""A local PCS/PCCS + KDS on 127.0.0.1 that answers with the vectors' recorded real collateral.

The signed parts are byte for byte what the vectors recorded (Intel's ``tcbInfo`` and
``enclaveIdentity`` JSON with their signatures, the CRLs' DER, the issuer chains; AMD's VCEK DER
and ASK+ARK PEM); only the PCS API v4 envelope around them is rebuilt:
``{"tcbInfo": <raw>, "signature": "<hex>"}`` with the URL-encoded issuer chain in its header,
exactly as PCS serves them. Routes can be replaced per test (hostile answers), ETags answer
``304`` to a matching ``If-None-Match``, and every request is logged.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Route:
    """One answer: status, body, headers, and an optional ETag."""

    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    etag: str | None = None
    declare_length: bool = True  # False: no Content-Length, the body ends when the connection closes


@dataclass
class Recorded:
    """The routes and the request log (path with query, If-None-Match)."""

    routes: dict[str, Route] = field(default_factory=dict)
    log: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""


def intel_routes(collateral: dict[str, str], *, tee: str, fmspc: str, ca: str) -> dict[str, Route]:
    """PCS v4 answers for one platform, rebuilt around a recorded ``QuoteCollateralV3``."""
    tcb = f'{{"tcbInfo":{collateral["tcb_info"]},"signature":"{collateral["tcb_info_signature"]}"}}'
    qe_signature = collateral["qe_identity_signature"]
    qe = f'{{"enclaveIdentity":{collateral["qe_identity"]},"signature":"{qe_signature}"}}'
    return {
        f"/{tee}/certification/v4/tcb?fmspc={fmspc}": Route(
            tcb.encode(),
            "application/json",
            {"TCB-Info-Issuer-Chain": urllib.parse.quote(collateral["tcb_info_issuer_chain"])},
        ),
        f"/{tee}/certification/v4/qe/identity": Route(
            qe.encode(),
            "application/json",
            {"SGX-Enclave-Identity-Issuer-Chain": urllib.parse.quote(collateral["qe_identity_issuer_chain"])},
        ),
        f"/sgx/certification/v4/pckcrl?ca={ca}&encoding=der": Route(
            bytes.fromhex(collateral["pck_crl"]),
            "application/pkix-crl",
            {"SGX-PCK-CRL-Issuer-Chain": urllib.parse.quote(collateral["pck_crl_issuer_chain"])},
        ),
        "/sgx/certification/v4/rootcacrl": Route(collateral["root_ca_crl"].encode(), "text/plain"),
    }


def amd_routes(vectors: Path, *, product: str, hwid: str, query: str) -> dict[str, Route]:
    """KDS answers: the recorded VCEK (DER) and ASK+ARK chain (PEM) of the virtee Milan vector."""
    return {
        f"/vcek/v1/{product}/cert_chain": Route(
            (vectors / "snp/virtee-sev/cert_chain_milan").read_bytes(), "application/x-pem-file"
        ),
        f"/vcek/v1/{product}/{hwid}?{query}": Route(
            (vectors / "snp/virtee-sev/vcek_milan.der").read_bytes(), "application/pkix-cert"
        ),
    }


def load_collateral(vectors: Path, name: str) -> dict[str, str]:
    """A vector's recorded collateral JSON."""
    document: dict[str, str] = json.loads((vectors / name).read_text())
    return document


@contextmanager
def serve(routes: dict[str, Route]) -> Iterator[Recorded]:
    """Serve ``routes`` on 127.0.0.1 (a free port) until the block ends."""
    recorded = Recorded(routes=dict(routes))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            recorded.log.append((self.path, self.headers.get("If-None-Match")))
            route = recorded.routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if route.etag is not None and self.headers.get("If-None-Match") == route.etag:
                self.send_response(304)
                self.send_header("ETag", route.etag)
                for name, value in route.headers.items():
                    if name.lower() == "cache-control":
                        self.send_header(name, value)
                self.end_headers()
                return
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            if route.declare_length:
                self.send_header("Content-Length", str(len(route.body)))
            if route.etag is not None:
                self.send_header("ETag", route.etag)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(route.body)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorded.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield recorded
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
