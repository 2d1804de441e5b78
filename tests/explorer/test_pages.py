"""The explorer's pages over HTTP: content, stable URLs, escaping, security headers, codes."""

from __future__ import annotations

import httpx

from tests.explorer.conftest import APP, DATASET, DEAL, Site
from tests.scheduler.conftest import POOL


def _get(site: Site, path: str) -> httpx.Response:
    return httpx.get(site.url + path, timeout=20)


def test_every_page_has_a_stable_url_and_a_strict_csp(site: Site) -> None:
    paths = [
        "/", f"/deals/0x{DEAL.hex()}", f"/tasks/{site.done}", f"/apps/{APP}", f"/datasets/{DATASET}",
        f"/workerpools/{POOL}", "/orderbook",
    ]  # fmt: skip
    for path in paths:
        page = _get(site, path)
        assert page.status_code == 200, path
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "<script>" not in page.text  # no inline script anywhere
        assert page.headers["x-content-type-options"] == "nosniff"


def test_the_task_page_shows_its_timeline_and_the_receipt_seam(site: Site) -> None:
    text = _get(site, f"/tasks/{site.done}").text
    for step in ("scheduled", "assigned", "ran", "sealed", "settled"):
        assert f'<span class="step-name">{step}</span>' in text
    assert "receipt: not available" in text
    assert "live.js" not in text  # a settled task does not subscribe


def test_worker_text_is_escaped(site: Site) -> None:
    text = _get(site, f"/tasks/{site.live}").text
    assert "&lt;script&gt;alert(&#39;the detail is escaped&#39;)&lt;/script&gt;" in text
    assert "<script>alert" not in text
    assert '<script src="/static/live.js" defer></script>' in text  # a live task subscribes


def test_the_dataset_page_shows_its_public_release_audit(site: Site) -> None:
    text = _get(site, f"/datasets/{DATASET}").text
    assert f"/deals/0x{DEAL.hex()}" in text
    assert "sealrun dataset audit" in text  # where the owner reads the SMS's own audit


def test_malformed_and_unknown_ids_have_their_codes(site: Site) -> None:
    bad = _get(site, "/tasks/0x12")
    assert bad.status_code == 400
    assert "INVALID_BYTES32" in bad.text
    assert _get(site, "/apps/not-an-address").status_code == 400
    assert "INVALID_ADDRESS" in _get(site, "/datasets/0xzz").text
    assert _get(site, "/tasks/0x" + "00" * 32).status_code == 404
    assert _get(site, "/apps/0x" + "00" * 20).status_code == 404
    assert _get(site, "/tasks/0x12/events").status_code == 400


def test_the_order_book_lists_open_orders(site: Site) -> None:
    text = _get(site, "/orderbook").text
    assert POOL in text
    assert "1000000" in text
