"""``sealrun orderbook show`` as a user runs it, against the market served on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from sealrun.core.chainstate import WorkerpoolRecord
from sealrun.services.market.app import create_app
from sealrun.services.market.settings import MarketSettings
from tests.market.conftest import CHAIN_ID, HUB, MemoryChain, actor, pool_order, sign_order
from tests.pool.servers import free_port

SEALRUN = Path(sys.executable).parent / "sealrun"


@pytest.fixture
def market_url(tmp_path: Path) -> Iterator[tuple[str, MemoryChain]]:
    chain = MemoryChain()
    settings = MarketSettings(database_url=f"sqlite:///{tmp_path / 'm.db'}", hub=HUB)
    app = create_app(settings, chain_id=CHAIN_ID, reader=chain, ledger=chain, events=None)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/v1/status").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    try:
        yield url, chain
    finally:
        server.should_exit = True
        thread.join(10)


def run(url: str, *args: str, cwd: Path, columns: int = 200) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SEALRUN_MARKET_URL": url, "COLUMNS": str(columns)}
    return subprocess.run(
        [str(SEALRUN), "orderbook", "show", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_orderbook_show_lists_cheapest_first(market_url: tuple[str, MemoryChain], tmp_path: Path) -> None:
    url, chain = market_url
    owner, pool = actor(), actor().address
    chain.pools[pool] = WorkerpoolRecord(address=pool, owner=owner.address)
    for price, category in ((9, 0), (4, 0), (1, 2)):
        order = sign_order("workerpool", pool_order(pool, price=price, category=category), owner.key)
        body = {"kind": "workerpool", "order": order, "chain_id": CHAIN_ID, "hub": HUB}
        httpx.post(url + "/v1/orders", json=body).raise_for_status()
    done = run(url, "--category", "0", "--tag", "tee", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [o["price"] for o in listed["orders"]] == ["4", "9"]
    assert listed["orders"][0]["signer"] == owner.address
    human = run(url, "--category", "0", cwd=tmp_path, columns=60)
    assert human.returncode == 0
    cheapest = listed["orders"][0]["order_hash"]
    flat = human.stdout.replace("\n", "")  # a 60-column terminal wraps hashes, never cuts them
    assert f"sealrun order fill --workerpool {cheapest}" in flat
    assert f"signer      {owner.address}" in flat
    assert human.stdout.startswith("price 4  remaining 10/10  category 0  tag 0x")
    for bad in ("b'", "{'", "None", "…"):
        assert bad not in human.stdout


def test_orderbook_show_bad_input(market_url: tuple[str, MemoryChain], tmp_path: Path) -> None:
    for args, code in (
        (("--tag", "quantum"), "CONFIG_INVALID"),
        (("--kind", "everything"), "CONFIG_INVALID"),
    ):
        done = run(market_url[0], *args, "--json", cwd=tmp_path)
        assert done.returncode == 1
        assert json.loads(done.stdout)["error"]["code"] == code
        assert "Traceback" not in done.stderr


def test_orderbook_show_unreachable_market(tmp_path: Path) -> None:
    done = run(f"http://127.0.0.1:{free_port()}", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error [MARKET_UNREACHABLE]")


def test_parse_tag() -> None:
    from sealrun.cli.orderbook import parse_tag
    from sealrun.errors import ConfigError

    assert parse_tag([]) is None
    assert parse_tag(["tee", "gpu"]) == "0x" + "00" * 30 + "01" + "01"
    assert parse_tag(["sev-snp"]) == "0x" + "00" * 31 + "08"
    assert parse_tag(["0x3"]) == "0x" + "0" * 63 + "3"
    for bad in (["0x"], ["0x" + "f" * 65], ["0xzz"], ["quantum"]):
        with pytest.raises(ConfigError):
            parse_tag(bad)
