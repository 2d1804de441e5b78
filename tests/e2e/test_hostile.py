"""A hostile app and a hostile requester against a real devnet (issue 13's red-team findings).

One embedded devnet serves the module. The hostile requester registers her own app (anyone
can) and buys tasks through the CLI, as the red team did:

- an app that loots what it can reach inside the sandbox (every ``/proc/*/environ``, the
  devnet's state, keys, ``/etc/shadow``) and seals the loot to her: the loot holds none of
  the worker's, the SMS's or the devnet's secrets;
- input files named ``file://``, loopback (the SMS itself), link-local metadata and private
  URLs: each task ends FAILED at once with its attested code, refunded;
- poison: an output name that is not UTF-8 and a requester secret that does not exist end
  FAILED within seconds with their codes (they looped until the deadline before);
- a memory hog of ten processes is stopped by the sandbox's cgroup;
- a worker key that is not on the pool's list is refused by the scheduler;
- a 100,000-deep JSON body and a chunked oversized body leave every service up.
"""

from __future__ import annotations

import json
import socket
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Project

pytestmark = [pytest.mark.e2e]

_MANIFEST = '[app]\nname = "{name}"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'


def _app(project: Project, name: str, source: str, resources: str = "") -> str:
    """Write, deploy and offer an app of the hostile requester's; return its address."""
    folder = project.root / "apps" / name
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(textwrap.dedent(source))
    (folder / "sealrun-app.toml").write_text(_MANIFEST.format(name=name) + textwrap.dedent(resources))
    app = str(project.json("app", "deploy", str(folder), "--yes")["app"])
    project.json("order", "init", "--app", app, "--volume", "100")
    project.json("order", "sign", "--app")
    return app


def _run(project: Project, app: str, *extra: str) -> dict[str, Any]:
    started = time.monotonic()
    done = project.run(
        "app", "run", app, *extra, "--watch", "--yes", "--timeout", "240", "--json", timeout=300, check=False
    )  # fmt: skip
    ran = dict(json.loads(done.stdout))
    # The exit status tells the truth: 0 COMPLETED, 3 FAILED (README, exit statuses).
    assert done.returncode == {"COMPLETED": 0, "FAILED": 3}.get(ran.get("status", ""), -1), (
        done.returncode,
        ran,
    )
    ran["elapsed"] = time.monotonic() - started
    return ran


def _state(project: Project) -> dict[str, Any]:
    return dict(json.loads((project.root / ".sealrun" / "devnet" / "state.json").read_text()))


def _secrets_of_the_devnet(project: Project) -> list[str]:
    """Every secret value the devnet holds (what a looter must not find)."""
    root = project.root / ".sealrun" / "devnet"
    values = []
    for path in [*root.glob("keys/*"), *root.glob("secrets/*/*"), *root.glob("sms/master.key")]:
        text = path.read_text(errors="replace").strip()
        values.append(text)
        values.extend(line for line in text.splitlines() if len(line) > 24 and "-----" not in line)
    assert len(values) >= 6, values
    return [v for v in values if len(v) >= 24]


LOOTER = """\
    import glob, json, os, sys
    loot = {"environ": {}, "files": {}, "uid": os.getuid()}
    for path in glob.glob("/proc/*/environ"):
        try:
            loot["environ"][path] = open(path, "rb").read().decode("latin-1")
        except OSError as error:
            loot["environ"][path] = "ERR " + type(error).__name__
    for path in sys.argv[1:] + ["/etc/shadow", "/root", "/home", "/etc"]:
        try:
            if os.path.isdir(path):
                loot["files"][path] = sorted(os.listdir(path))
            else:
                loot["files"][path] = open(path, "rb").read(4096).hex()
        except OSError as error:
            loot["files"][path] = "ERR " + type(error).__name__
    json.dump(loot, open("/iexec_out/loot.json", "w"))
    json.dump({"deterministic-output-path": "/iexec_out/loot.json"}, open("/iexec_out/computed.json", "w"))
"""


def test_the_loot_holds_no_secret(embedded_project: Project) -> None:
    project = embedded_project
    app = _app(project, "looter", LOOTER)
    root = project.root / ".sealrun" / "devnet"
    targets = [str(root), str(root / "keys" / "simulator.pem"), str(root / "sms"), "/proc/1/environ"]
    ran = _run(project, app, "--args", " ".join(targets), "--download", "--decrypt")
    assert ran["status"] == "COMPLETED", ran
    loot_file = next(Path(f) for f in ran["outputs"] if f.endswith("loot.json"))
    text = loot_file.read_text()
    loot = json.loads(text)
    for secret in _secrets_of_the_devnet(project):
        assert secret not in text
    assert "SEALRUN_" not in json.dumps(loot["environ"])
    for target in targets[:3]:
        assert loot["files"][target].startswith("ERR "), target
    assert loot["files"]["/etc/shadow"].startswith("ERR ")


# Two of the six run by default (a host file, the cloud metadata address); the other four are
# the same whole task with another URL, and each of their rules is held in process by
# tests/enclave/test_fetching_policy.py (schemes, private ranges, numeric loopback spellings).
_MORE = pytest.mark.extended


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/shadow",
        pytest.param("file:///dev/zero", marks=_MORE),
        "http://169.254.169.254/latest/meta-data/",
        pytest.param("http://10.1.2.3/data.bin", marks=_MORE),
        pytest.param("http://2130706433/", marks=_MORE),
        pytest.param("ftp://example.org/data", marks=_MORE),
    ],
)
def test_input_files_from_the_host_or_private_networks_are_refused(
    embedded_project: Project, url: str
) -> None:
    project = embedded_project
    app = _app(
        project, f"reader-{abs(hash(url)) % 10**8}", "import shutil, os\nprint(os.listdir('/iexec_in'))\n"
    )
    ran = _run(project, app, "--input-files", url)
    assert ran["status"] == "FAILED", ran
    assert ran["failure"]["name"] == "INPUT_URL_REFUSED", ran
    assert ran["elapsed"] < 120


def test_the_sms_itself_is_no_input(embedded_project: Project) -> None:
    project = embedded_project
    sms = _state(project)["services"]["sms"]
    app = _app(project, "ssrf", "print('hi')\n")
    ran = _run(project, app, "--input-files", sms + "/openapi.json")
    assert ran["status"] == "FAILED", ran
    assert ran["failure"]["name"] == "INPUT_URL_REFUSED", ran


def test_poison_outputs_and_missing_secrets_end_at_once(embedded_project: Project) -> None:
    project = embedded_project
    bad_name = _app(project, "badname", "open(b'/iexec_out/\\xff\\xfe.bin', 'wb').write(b'x')\n")
    ran = _run(project, bad_name)
    assert ran["status"] == "FAILED", ran
    assert ran["failure"]["name"] == "APP_OUTPUT_INVALID"
    assert ran["elapsed"] < 120
    # A requester secret that was never pushed: the CLI refuses before buying anything (a
    # requester who bypasses the CLI gets the attested SECRET_MISSING failure: tests/sms).
    secretive = _app(project, "secretive", "import os\nprint(os.environ.get('IEXEC_REQUESTER_SECRET_1'))\n")
    before = project.json("account", "show")
    refused = project.error("app", "run", secretive, "--secret", "1=never-pushed", "--yes")
    assert refused["code"] == "SECRET_MISSING", refused
    assert "sealrun requester push-secret never-pushed" in refused["message"]
    assert project.json("account", "show") == before


def test_a_memory_hog_is_stopped_by_the_sandbox(embedded_project: Project) -> None:
    hog = """\
        import os, time
        for _ in range(10):
            if os.fork() == 0:
                block = bytearray(40 << 20)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                time.sleep(5)
                os._exit(0)
        results = [os.wait()[1] for _ in range(10)]
        raise SystemExit(0 if all(r == 0 for r in results) else 9)
    """
    ran = _run(embedded_project, _app(embedded_project, "hog", hog, "[resources]\nmemory_mb = 128\n"))
    assert ran["status"] == "FAILED", ran
    assert ran["failure"]["name"] in {"APP_MEMORY_EXCEEDED", "APP_EXIT_NONZERO"}, ran


def test_a_worker_off_the_list_is_refused(embedded_project: Project) -> None:
    from eth_account import Account

    from sealrun.adapters.http.scheduler import SchedulerClient
    from sealrun.core.requests import RequestDomain
    from sealrun.errors import SealrunError

    state = _state(embedded_project)
    stranger = Account.create()
    client = SchedulerClient(
        state["services"]["scheduler"],
        key=bytes(stranger.key),
        domain=RequestDomain(chain_id=state["chain_id"], hub=state["hub"]),
    )
    try:
        with pytest.raises(SealrunError) as caught:
            client.register(slots=1, tee="simulated", holding=[])
        assert caught.value.code == "WORKER_NOT_ALLOWED"
        with pytest.raises(SealrunError) as polled:
            client.next(wait=0.1)
        assert polled.value.code == "WORKER_NOT_ALLOWED"
    finally:
        client.close()


def _chunked(url: str, path: str, body: bytes, chunk: int = 65536) -> int:
    """POST ``body`` to ``path`` with chunked transfer encoding; return the HTTP status."""
    host, port = url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=60)
    try:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()
            + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        try:
            for start in range(0, len(body), chunk):
                part = body[start : start + chunk]
                conn.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            conn.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed early: that is the point
        answer = conn.recv(4096)
    finally:
        conn.close()
    return int(answer.split(b" ", 2)[1])


# A route of each JSON service that reads its body (an unknown path answers 404 unread).
_JSON_ROUTES = {
    "sms": "/v1/tasks/0x" + "00" * 32 + "/release",
    "market": "/v1/orders",
    "scheduler": "/v1/workers",
}


def test_bodies_that_crashed_services_are_refused_and_services_stay_up(embedded_project: Project) -> None:
    services = _state(embedded_project)["services"]
    deep = b"[" * 100_000 + b"]" * 100_000
    huge = b"[" + b"0," * (40 << 20) + b"0]"
    # One client for the whole test, closed by its context: a server that answers early and
    # closes must not leave a socket to the garbage collector.
    with httpx.Client(timeout=60) as client:
        for name, path in _JSON_ROUTES.items():
            url = services[name]
            answer = client.post(url + path, content=deep, headers={"content-type": "application/json"})
            # Refused before any parser: too deep, or (the market's small limit) too large.
            refusals = {(400, "REQUEST_TOO_DEEP"), (413, "TOO_LARGE")}
            assert (answer.status_code, answer.json()["code"]) in refusals, name
            assert _chunked(url, path, deep) in {400, 413}, name
            assert _chunked(url, path, huge) == 413, name
            assert client.get(url + "/openapi.json").status_code == 200, name
        store = services["store"]
        stray = client.put(store + "/v1/blobs/0x" + "00" * 32, content=deep)
        assert stray.status_code in {400, 401}, stray.text
        assert client.get(store + "/openapi.json").status_code == 200
