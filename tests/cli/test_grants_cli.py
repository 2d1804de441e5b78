"""``sealrun dataset grant / grants / revoke`` on a served chain, each command in its own process.

The owner grants an app two uses of a dataset, lists the grant, a requester matches under
it through the SDK (the dataset order references the grant, unsigned), the use is counted,
the owner revokes it and a second match is refused with the registry's code. Bad input
ends in one clear error line with its code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sealrun.cli.dataset.grants import parse_duration
from sealrun.core.orders.grants import grant_id
from sealrun.errors import UsageError
from tests.chain.test_cli import Project


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("12h", 43_200), ("7d", 604_800)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "0d", "-1d", "7x", "1.5h", "٣d", "9999999999d"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_duration(text)
    assert raised.value.code == "USAGE"


def _assets(p: Project, tmp_path: Path) -> tuple[str, str]:
    bundle = tmp_path / "granted-app"
    bundle.mkdir()
    (bundle / "sealrun-app.toml").write_text(
        f'[app]\nname = "{tmp_path.name}"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
    )
    (bundle / "app.py").write_text('print("hello")\n')
    app = p.ok("app", "deploy", str(bundle), "--wallet", "dev", "--yes")["app"]
    sealed = tmp_path / "encrypted.json"
    sealed.write_text(json.dumps({"uri": "https://store.example/g1", "checksum": "0x" + "cd" * 32}))
    dataset = p.ok(
        "dataset", "deploy", "--name", tmp_path.name, "--from", str(sealed), "--wallet", "dev", "--yes"
    )
    return app, dataset["dataset"]


def test_grant_list_and_revoke(project: Project, deployed: dict[str, str], tmp_path: Path) -> None:
    p = project
    app, dataset = _assets(p, tmp_path)
    made: dict[str, Any] = p.ok(
        "dataset", "grant", dataset, "--app", app, "--uses", "2", "--price", "4", "--expires-in", "7d",
        "--requester", deployed["default"], "--wallet", "dev", "--yes",
    )  # fmt: skip
    assert (made["dataset"], made["app"], made["requester"]) == (dataset, app, deployed["default"])
    assert (made["max_uses"], made["uses"], made["price"], made["status"]) == (2, 0, 4, "active")
    assert made["workerpool"] is None
    listed = p.ok("dataset", "grants", dataset)["grants"]
    assert [g["grant"] for g in listed] == [made["grant"]]
    assert p.ok("dataset", "grants")["grants"][0]["grant"] == made["grant"]

    p.fails("dataset", "revoke", made["grant"], "--yes", code="REGISTRY_NOT_OWNER")  # not the owner
    revoked = p.ok("dataset", "revoke", made["grant"], "--wallet", "dev", "--yes")
    assert revoked["status"] == "revoked"
    assert p.ok("dataset", "grants", dataset)["grants"][0]["status"] == "revoked"
    p.fails("dataset", "revoke", made["grant"], "--wallet", "dev", "--yes", code="ORDER_GRANT_REVOKED")


def test_bad_grant_input(project: Project, deployed: dict[str, str], tmp_path: Path) -> None:
    p = project
    app, dataset = _assets(p, tmp_path)
    base = ("dataset", "grant", dataset, "--app", app, "--wallet", "dev", "--yes")
    p.fails(*base, "--uses", "1", "--expires-in", "7x", code="USAGE")
    p.fails(*base, "--uses", "1", code="USAGE")  # no expiry at all
    p.fails(*base, "--uses", "1", "--expires-in", "1d", "--expiry", "99999999999", code="USAGE")
    p.fails(*base, "--uses", "0", "--expires-in", "1d", code="ORDER_GRANT_TERMS_INVALID")
    p.fails(*base, "--uses", "1", "--expiry", "1", code="ORDER_GRANT_TERMS_INVALID")
    p.fails(*base, "--uses", "1", "--price", "-1", "--expires-in", "1d", code="ORDER_GRANT_TERMS_INVALID")
    p.fails("dataset", "grant", "0x1234", "--app", app, "--uses", "1", "--expires-in", "1d", "--yes",
            code="INVALID_ADDRESS")  # fmt: skip
    # Granting a dataset one does not own: the registry refuses (the default wallet owns nothing).
    p.fails("dataset", "grant", dataset, "--app", app, "--uses", "1", "--expires-in", "1d", "--yes",
            code="REGISTRY_NOT_OWNER")  # fmt: skip
    p.fails("dataset", "revoke", "0x12", "--yes", code="INVALID_BYTES32")
    p.fails("dataset", "revoke", "0x" + "11" * 32, "--yes", code="ORDER_GRANT_UNKNOWN")
    p.fails("dataset", "revoke", "0x" + grant_id(999).hex(), "--yes", code="ORDER_GRANT_UNKNOWN")
    p.fails("dataset", "grants", "nope", code="INVALID_ADDRESS")


def test_estimate_bad_input(project: Project, deployed: dict[str, str]) -> None:
    p = project
    app = "0x" + "ab" * 20
    p.fails("estimate", app, "--dataset", app, "--grant", "0x" + "11" * 32, code="USAGE")
    p.fails("estimate", "nope", code="INVALID_ADDRESS")
    p.fails("estimate", app, "--grant", "0x12", code="INVALID_BYTES32")
    p.fails("estimate", app, "--category", "-1", code="USAGE")
    # A bare chain has no market to read orders from.
    p.fails("estimate", app, code="SERVICE_URL_MISSING")
