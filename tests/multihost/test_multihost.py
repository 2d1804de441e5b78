"""The multi-host rig as a test: ``scripts/multihost.sh test`` end to end (tier ``multihost``),
and its pure parts and teardown in the default run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.multihost import rig as rigs
from tests.multihost.__main__ import _passed

REPO = Path(__file__).resolve().parents[2]


def _run(lost: int = 0, twice: int = 0, escrow: bool = True, error: str | None = None) -> dict[str, object]:
    return {"lost": lost, "settled_twice": twice, "escrow_conserved": escrow, "fault_error": error}


def test_a_report_passes_only_with_nothing_lost_nothing_settled_twice_and_every_fault_injected() -> None:
    faults = [{"fault": str(n)} for n in range(4)]
    assert _passed({"faulted_run": {**_run(), "faults": faults}})
    assert not _passed({"faulted_run": {**_run(lost=1), "faults": faults}})
    assert not _passed({"faulted_run": {**_run(twice=1), "faults": faults}})
    assert not _passed({"faulted_run": {**_run(escrow=False), "faults": faults}})
    assert not _passed({"faulted_run": {**_run(error="TimeoutError()"), "faults": faults}})
    assert not _passed({"faulted_run": {**_run(), "faults": faults[:3]}})  # a fault never came
    scaling = {"two_hosts": _run(), "one_host": _run(lost=2), "speedup": 1.9, "goal": 1.8}
    assert not _passed({"faulted_run": {**_run(), "faults": faults}, "scaling": scaling})


def test_hosts_have_distinct_addresses_and_link_names_linux_accepts() -> None:
    addresses = {rigs.address(host) for host in rigs.HOSTS}
    assert len(addresses) == len(rigs.HOSTS)
    assert rigs.OPERATOR not in addresses
    for host in rigs.HOSTS:
        outer, inner = rigs._veth(host)
        assert max(len(outer), len(inner)) <= 15  # IFNAMSIZ
        assert rigs.namespace(host).startswith(rigs.PREFIX + "-")


@pytest.mark.extended
@pytest.mark.multihost
@pytest.mark.timeout(1600)
def test_multihost_pool_survives_the_faults_with_nothing_lost() -> None:
    reason = rigs.netns_available()
    if reason is not None:
        pytest.skip(f"multihost: {reason}")
    done = subprocess.run(
        ["bash", "scripts/multihost.sh", "test", "--json", "--no-compare"],
        cwd=REPO, capture_output=True, text=True, timeout=1560, check=False,
    )  # fmt: skip
    assert done.stdout.strip(), done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    run = report["faulted_run"]
    assert (run["lost"], run["settled_twice"], run["escrow_conserved"]) == (0, 0, True), run
    assert run["completed"] + run["attested_failures"] == run["tasks"] == 200, run
    assert [f["fault"] for f in run["faults"]] == [
        "link down worker-a 30 s", "kill host worker-b", "restart PostgreSQL", "restart SMS (kill -9, start)",
    ]  # fmt: skip
    assert report["passed"], done.stderr[-4000:]
    assert done.returncode == 0
    assert not rigs.ROOT.exists()  # `down` ran
