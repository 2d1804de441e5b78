"""What the devnet runs besides the chain, and each service's settings.

Every service reads its settings from its own ``SEALRUN_<SERVICE>_*`` variables (see each
``services/<name>/settings.py``); this module is the one place that fills them for a devnet:
fresh loopback ports, data under the state dir, the deployed hub, the shared upload-token key,
the simulator key (SMS: public half; workers: private half), the pool owner's key and the
scheduler's allow-list of workers. Keys go in ``secrets`` (files), never in ``env``.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sealrun.adapters.localchain.anvil import free_port
from sealrun.api.blobs import collection_url
from sealrun.devnet.state import DevnetState

__all__ = ["POOL_CATEGORY", "POOL_PRICE", "SERVICE_MODULES", "WORKER_TEE", "ServicePlan", "plan_services"]

# The devnet's workers run the simulated TEE: no hardware protection (the demo says so).
WORKER_TEE = "simulated"

# The devnet pool's standing offer: TEE tasks of category 0 (XS) at 0.001 token each.
POOL_PRICE = 1_000_000
POOL_CATEGORY = 0
POOL_VOLUME = 1_000_000

# Every module :func:`plan_services` may start (the zygote preloads those installed).
SERVICE_MODULES = tuple(
    f"sealrun.services.{name}" for name in ("store", "sms", "market", "scheduler", "explorer", "worker")
)


@dataclass(frozen=True)
class ServicePlan:
    """One process to start: ``python -m <module> <args>`` with ``env``, serving ``url``.

    ``secrets`` are settings too, given as files of the service's own 0700 secrets folder
    (named by ``<secrets_prefix>SECRETS_DIR``), never as variables.
    Plans of the same ``wave`` start together; a wave starts once the previous one is healthy.
    """

    name: str
    module: str
    env: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    args: tuple[str, ...] = ()
    wave: int = 0
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def secrets_prefix(self) -> str:
        """``SEALRUN_<SERVICE>_``: the prefix of the service's settings."""
        return "SEALRUN_" + self.module.rsplit(".", 1)[-1].upper() + "_"


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package is missing
        return False


def _secret(root: Path, name: str) -> str:
    return (root / "keys" / name).read_text(encoding="utf-8").strip()


def plan_services(
    state: DevnetState, *, workers: int, ports: Mapping[str, int] | None = None
) -> list[ServicePlan]:
    """The store, SMS, market, scheduler and ``workers`` workers for ``state``'s chain.

    ``ports`` keeps a resumed devnet's services where they were (datasets registered on chain
    name the store's URL); a service without one gets a free port. A service whose package is
    not installed is left out (the devnet still starts what it can).
    """
    root = state.root
    keys = root / "keys"
    upload_key = _secret(root, "upload-token.key")
    kept = dict(ports or {})  # a resumed devnet's ports, the explorer's included
    ports = {name: kept.get(name) or free_port() for name in ("store", "sms", "market", "scheduler")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    chain = {"chain_id": str(state.chain_id), "hub": state.hub}
    plans = [
        ServicePlan(
            "store",
            "sealrun.services.store",
            {
                "SEALRUN_STORE_ROOT": str(root / "store"),
                "SEALRUN_STORE_PORT": str(ports["store"]),
                "SEALRUN_STORE_CHAIN_ID": chain["chain_id"],
                "SEALRUN_STORE_HUB": chain["hub"],
                # Signed uploads are checked against the registry: only a dataset's owner uploads it.
                "SEALRUN_STORE_RPC_URL": state.rpc_url,
            },
            urls["store"],
            secrets={"SEALRUN_STORE_UPLOAD_TOKEN_KEY": upload_key},
        ),
        ServicePlan(
            "sms",
            "sealrun.services.sms",
            {
                "SEALRUN_SMS_MODE": "embedded-devnet",
                "SEALRUN_SMS_DATA_DIR": str(root / "sms"),
                "SEALRUN_SMS_PORT": str(ports["sms"]),
                "SEALRUN_SMS_CHAIN_RPC_URL": state.rpc_url,
                "SEALRUN_SMS_CHAIN_ID": chain["chain_id"],
                "SEALRUN_SMS_HUB": chain["hub"],
                "SEALRUN_SMS_ALLOW_SIMULATED_EVIDENCE": "true",
                "SEALRUN_SMS_SIMULATOR_PUBLIC_KEY_FILE": str(keys / "simulator.pub.pem"),
                "SEALRUN_SMS_RESULT_UPLOAD_URL": collection_url(urls["store"]),
            },
            urls["sms"],
            secrets={"SEALRUN_SMS_UPLOAD_TOKEN_KEY": upload_key},
        ),
        ServicePlan(
            "market",
            "sealrun.services.market",
            {
                "SEALRUN_MARKET_DATABASE_URL": f"sqlite:///{root / 'market.db'}",
                "SEALRUN_MARKET_RPC_URL": state.rpc_url,
                "SEALRUN_MARKET_HUB": chain["hub"],
                "SEALRUN_MARKET_CHAIN_ID": chain["chain_id"],
                "SEALRUN_MARKET_START_BLOCK": str(state.deploy_block),
                "SEALRUN_MARKET_POLL_INTERVAL": "0.2",
                "SEALRUN_MARKET_PORT": str(ports["market"]),
            },
            urls["market"],
        ),
    ]
    if _exists("sealrun.services.scheduler.__main__"):
        (root / "scheduler").mkdir(mode=0o700, parents=True, exist_ok=True)
        plans.append(
            ServicePlan(
                "scheduler",
                "sealrun.services.scheduler",
                {
                    "SEALRUN_SCHEDULER_WORKERPOOL": state.workerpool or "",
                    # A closed pool: only the devnet's own workers may register.
                    "SEALRUN_SCHEDULER_ALLOWED_WORKERS": json.dumps(list(state.workers)),
                    "SEALRUN_SCHEDULER_DATABASE_URL": f"sqlite:///{root / 'scheduler' / 'scheduler.db'}",
                    "SEALRUN_SCHEDULER_RPC_URL": state.rpc_url,
                    "SEALRUN_SCHEDULER_HUB": chain["hub"],
                    "SEALRUN_SCHEDULER_START_BLOCK": str(state.deploy_block),
                    "SEALRUN_SCHEDULER_SMS_URL": urls["sms"],
                    "SEALRUN_SCHEDULER_MARKET_URL": urls["market"],
                    "SEALRUN_SCHEDULER_ORDER_PRICE": str(POOL_PRICE),
                    "SEALRUN_SCHEDULER_ORDER_VOLUME": str(POOL_VOLUME),
                    "SEALRUN_SCHEDULER_ORDER_CATEGORY": str(POOL_CATEGORY),
                    "SEALRUN_SCHEDULER_POLL_INTERVAL": "0.2",
                    "SEALRUN_SCHEDULER_SWEEP_INTERVAL": "1.0",
                    "SEALRUN_SCHEDULER_PORT": str(ports["scheduler"]),
                },
                urls["scheduler"],
                wave=1,
                secrets={"SEALRUN_SCHEDULER_OWNER_KEY": _secret(root, "pool-owner.key")},
            )
        )
    if _exists("sealrun.services.explorer.__main__"):
        port = kept.get("explorer") or free_port()
        plans.append(
            ServicePlan(
                "explorer",
                "sealrun.services.explorer",
                {
                    "SEALRUN_EXPLORER_RPC_URL": state.rpc_url,
                    "SEALRUN_EXPLORER_HUB": chain["hub"],
                    "SEALRUN_EXPLORER_START_BLOCK": str(state.deploy_block),
                    "SEALRUN_EXPLORER_SCHEDULER_URL": urls["scheduler"],
                    "SEALRUN_EXPLORER_MARKET_URL": urls["market"],
                    "SEALRUN_EXPLORER_STORE_URL": urls["store"],
                    "SEALRUN_EXPLORER_SMS_URL": urls["sms"],
                    # The devnet's TEE is simulated: its receipts verify as such, and say so.
                    "SEALRUN_EXPLORER_SIMULATOR_KEY_FILE": str(keys / "simulator.pub.pem"),
                    "SEALRUN_EXPLORER_ALLOW_SIMULATED": "true",
                    "SEALRUN_EXPLORER_PORT": str(port),
                },
                f"http://127.0.0.1:{port}",
                wave=2,
            )
        )
    if _exists("sealrun.services.worker.__main__"):
        for number in range(1, workers + 1):
            work = root / "workers" / f"worker-{number}"
            work.mkdir(mode=0o700, parents=True, exist_ok=True)
            plans.append(
                ServicePlan(
                    f"worker-{number}",
                    "sealrun.services.worker",
                    {
                        "SEALRUN_WORKER_WORK_DIR": str(work),
                        "SEALRUN_WORKER_RPC_URL": state.rpc_url,
                        "SEALRUN_WORKER_HUB": chain["hub"],
                        "SEALRUN_WORKER_SCHEDULER_URL": urls["scheduler"],
                        "SEALRUN_WORKER_SMS_URL": urls["sms"],
                        "SEALRUN_WORKER_TEE": WORKER_TEE,
                        "SEALRUN_WORKER_SIMULATOR_KEY_FILE": str(keys / "simulator.pem"),
                        "SEALRUN_WORKER_POLL_WAIT": "5",
                        # Datasets and results live in the devnet's store: plain http on
                        # loopback, the one origin besides the public internet tasks may fetch.
                        "SEALRUN_WORKER_INPUT_HTTP_ORIGINS": json.dumps([urls["store"]]),
                    },
                    wave=2,
                    secrets={"SEALRUN_WORKER_KEY": _secret(root, f"worker-{number}.key")},
                )
            )
    return plans
