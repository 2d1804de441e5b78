"""A deployed marketplace on titanoboa with named actors, for the contract tests.

Deploys Token, Registry and Hub from ``contracts/`` (compiled once per session), registers
an app, a dataset and a workerpool, funds the requester and the pool owner, and builds,
signs and matches orders. Each actor has a deterministic key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import boa
from eth_account import Account
from eth_account.signers.local import LocalAccount

from sealrun.core.orders import (
    AppOrder,
    DatasetOrder,
    Domain,
    RequestOrder,
    TagBit,
    WorkerpoolOrder,
    make_tag,
    sign_order,
)
from sealrun.core.tasks import (
    authorization_digest,
    failure_digest,
    result_hash,
    result_seal,
    result_signature_digest,
    sign_digest,
    task_id,
)

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
ACTORS = ("hubowner", "app", "dataset", "pool", "requester", "worker", "enclave", "stranger")
TEE = make_tag(TagBit.TEE)
TEE_SGX = make_tag(TagBit.TEE, TagBit.SGX)
FUNDS = 10**15
DEPOSIT = 10**12

#: The task receipt digest the enclave signs with a result or a failure (any bytes32).
RECEIPT = b"\x5e" * 32


@cache
def partials() -> dict[str, Any]:
    """Compile each contract once per session."""
    return {name: boa.load_partial(str(CONTRACTS / f"{name}.vy")) for name in ("Token", "Registry", "Hub")}


def actor(name: str) -> LocalAccount:
    """The deterministic account of ``name``."""
    return Account.from_key(bytes([ACTORS.index(name) + 1]) * 32)


@dataclass
class Market:
    token: Any
    registry: Any
    hub: Any
    app: str = ""
    dataset: str = ""
    pool: str = ""
    accounts: dict[str, LocalAccount] = field(default_factory=dict)

    @property
    def domain(self) -> Domain:
        return Domain(boa.env.evm.patch.chain_id, self.hub.address)

    def addr(self, name: str) -> str:
        return str(self.accounts[name].address)

    def key(self, name: str) -> bytes:
        return bytes(self.accounts[name].key)

    def fund(self, name: str, amount: int = DEPOSIT) -> None:
        """Mint ``amount`` to ``name`` and deposit it into the hub."""
        self.token.mint(self.addr(name), amount, sender=self.addr("hubowner"))
        with boa.env.prank(self.addr(name)):
            self.token.approve(self.hub.address, 2**256 - 1)
            self.hub.deposit(amount)

    # ------------------------------------------------------------------ orders

    def orders(
        self, *, volume: int = 1, with_dataset: bool = True, **overrides: Any
    ) -> tuple[AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder]:
        """Compatible, unsigned orders; ``overrides`` are ``"<kind>_<field>": value``."""
        app = AppOrder(app=self.app, appprice=5, volume=1000, tag=TEE)
        dataset = (
            DatasetOrder(dataset=self.dataset, datasetprice=3, volume=1000, tag=bytes(32))
            if with_dataset
            else DatasetOrder.none()
        )
        pool = WorkerpoolOrder(
            workerpool=self.pool, workerpoolprice=100, volume=1000, tag=TEE_SGX, category=0
        )
        request = RequestOrder(
            app=self.app,
            appmaxprice=5,
            dataset=dataset.dataset,
            datasetmaxprice=3,
            workerpool=self.pool,
            workerpoolmaxprice=100,
            requester=self.addr("requester"),
            volume=volume,
            tag=TEE,
            category=0,
            beneficiary=self.addr("requester"),
            params='{"iexec_args": "--fast"}',
        )
        found = {"app": app, "dataset": dataset, "workerpool": pool, "request": request}
        changes: dict[str, dict[str, Any]] = {kind: {} for kind in found}
        for key, value in overrides.items():
            kind, _, name = key.partition("_")
            changes[kind][name] = value
        for kind, fields in changes.items():
            if fields:
                found[kind] = dataclasses.replace(found[kind], **fields)  # type: ignore[type-var]
        return found["app"], found["dataset"], found["workerpool"], found["request"]  # type: ignore[return-value]

    def sign(
        self,
        a: AppOrder,
        d: DatasetOrder,
        w: WorkerpoolOrder,
        r: RequestOrder,
        *,
        domain: Domain | None = None,
    ) -> tuple[AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder]:
        """Sign each order with its owner's key (the empty dataset order stays unsigned)."""
        dom = domain or self.domain
        signed_d = sign_order(d, self.key("dataset"), dom) if d.dataset != DatasetOrder.none().dataset else d
        return (
            sign_order(a, self.key("app"), dom),
            signed_d,
            sign_order(w, self.key("pool"), dom),
            sign_order(r, self.key("requester"), dom),
        )

    def match(
        self, a: AppOrder, d: DatasetOrder, w: WorkerpoolOrder, r: RequestOrder, *, sender: str = "requester"
    ) -> tuple[bytes, tuple[Any, ...]]:
        """Match the orders; return the deal id and the deal tuple from OrdersMatched."""
        dealid = self.hub.matchOrders(
            a.to_abi(), d.to_abi(), w.to_abi(), r.to_abi(), sender=self.addr(sender)
        )
        event = [log for log in self.hub.get_logs() if type(log).__name__ == "OrdersMatched"][-1]
        assert event.dealid == dealid
        return dealid, tuple(event.deal)

    def deal(
        self, *, volume: int = 1, with_dataset: bool = True, **overrides: Any
    ) -> tuple[bytes, tuple[Any, ...]]:
        """Sign and match compatible orders in one go."""
        return self.match(*self.sign(*self.orders(volume=volume, with_dataset=with_dataset, **overrides)))

    # ------------------------------------------------------------------ tasks

    def authorization(
        self,
        dealid: bytes,
        index: int,
        *,
        worker: str = "worker",
        enclave: str = "enclave",
        signer: str = "pool",
    ) -> bytes:
        return sign_digest(
            self.key(signer),
            authorization_digest(self.addr(worker), task_id(dealid, index), self.addr(enclave)),
        )

    def result_signature(
        self,
        dealid: bytes,
        index: int,
        digest: bytes,
        *,
        worker: str = "worker",
        enclave: str = "enclave",
        receipt: bytes = RECEIPT,
    ) -> bytes:
        tid = task_id(dealid, index)
        return sign_digest(
            self.key(enclave),
            result_signature_digest(
                result_hash(tid, digest), result_seal(self.addr(worker), tid, digest), receipt
            ),
        )

    def failure_signature(
        self,
        dealid: bytes,
        index: int,
        code: int,
        log: bytes,
        *,
        enclave: str = "enclave",
        receipt: bytes = RECEIPT,
    ) -> bytes:
        return sign_digest(self.key(enclave), failure_digest(task_id(dealid, index), code, log, receipt))

    def finalize_args(
        self, dealid: bytes, deal: tuple[Any, ...], index: int, digest: bytes = b"\x42" * 32
    ) -> tuple[Any, ...]:
        return (
            deal,
            index,
            digest,
            self.addr("enclave"),
            self.authorization(dealid, index),
            self.result_signature(dealid, index, digest),
            f"https://store.example/results/{index}",
            RECEIPT,
        )

    def finalize(
        self, dealid: bytes, deal: tuple[Any, ...], index: int, digest: bytes = b"\x42" * 32
    ) -> None:
        self.hub.finalize(*self.finalize_args(dealid, deal, index, digest), sender=self.addr("worker"))

    def report_args(self, dealid: bytes, deal: tuple[Any, ...], index: int, code: int = 3) -> tuple[Any, ...]:
        log = b"\x07" * 32
        return (
            deal,
            index,
            code,
            log,
            self.addr("enclave"),
            self.authorization(dealid, index),
            self.failure_signature(dealid, index, code, log),
            RECEIPT,
        )

    def totals(self) -> int:
        """Sum of free + locked balances of every actor (all money the hub accounts for)."""
        return sum(self.hub.balanceOf(self.addr(n)) + self.hub.lockedOf(self.addr(n)) for n in ACTORS)


def deploy_market() -> Market:
    """Deploy and populate a marketplace in the current boa environment."""
    accounts = {name: actor(name) for name in ACTORS}
    for account in accounts.values():
        boa.env.set_balance(account.address, 10**21)
    parts = partials()
    owner = accounts["hubowner"].address
    with boa.env.prank(owner):
        token = parts["Token"].deploy("sealrun devnet token", "SRLC", 9)
        registry = parts["Registry"].deploy()
        hub = parts["Hub"].deploy(token.address, registry.address)
    market = Market(token=token, registry=registry, hub=hub, accounts=accounts)
    market.app = registry.createApp(
        "hello",
        "https://store.example/app",
        b"\x01" * 32,
        b"\x02" * 32,
        make_tag(TagBit.SGX),
        sender=market.addr("app"),
    )
    market.dataset = registry.createDataset(
        "data", "https://store.example/ds", b"\x03" * 32, sender=market.addr("dataset")
    )
    market.pool = registry.createWorkerpool("pool", 10, 20, sender=market.addr("pool"))
    market.fund("requester")
    market.fund("pool")
    return market
