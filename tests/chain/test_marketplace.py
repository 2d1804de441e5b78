"""The SDK against a real chain, the same suite on every backend (embedded, served, anvil)."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from eth_account import Account

from sealrun.adapters.chain.client import Marketplace
from sealrun.adapters.chain.deals import DealIndex
from sealrun.adapters.chain.events import EventReader, FileCheckpoint, SqlCheckpoint
from sealrun.adapters.chain.models import Deal, HubTaskStatus
from sealrun.adapters.db import create_database_engine
from sealrun.core.chainstate import TaskStatus
from sealrun.core.orders import (
    ZERO_ADDRESS,
    AppOrder,
    DatasetOrder,
    RequestOrder,
    TagBit,
    WorkerpoolOrder,
    make_tag,
    recover_order_signer,
)
from sealrun.core.tasks import task_id as compute_task_id
from sealrun.errors import ChainError, OrderError
from tests.chain.conftest import World

TEE = make_tag(TagBit.TEE)
TEE_SGX = make_tag(TagBit.TEE, TagBit.SGX)
SGX = make_tag(TagBit.SGX)


def register(world: World) -> tuple[str, str, str]:
    """Register an app, a dataset and a workerpool under fresh names; return their addresses."""
    name = secrets.token_hex(4)
    m = world.markets
    app = m["developer"].registry.create_app(
        name=f"app-{name}",
        bundle_uri="file:///app",
        checksum=b"\1" * 32,
        fingerprint=b"\2" * 32,
        tee_technology=SGX,
    )
    dataset = m["owner"].registry.create_dataset(
        name=f"data-{name}", uri="https://store/d", checksum=b"\3" * 32
    )
    pool = m["pool"].registry.create_workerpool(
        description=f"pool-{name}", worker_stake_ratio=30, scheduler_reward_ratio=10
    )
    return app.address, dataset.address, pool.address


def signed_orders(
    world: World, app: str, dataset: str, pool: str, *, category: int = 1, volume: int = 2
) -> tuple[AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder]:
    m = world.markets
    requester = world.accounts["requester"].address
    salt = secrets.token_bytes(32)
    a = m["developer"].sign(AppOrder(app=app, appprice=5, volume=10, tag=TEE, salt=salt))
    d = m["owner"].sign(DatasetOrder(dataset=dataset, datasetprice=3, volume=10, tag=TEE, salt=salt))
    w = m["pool"].sign(
        WorkerpoolOrder(workerpool=pool, workerpoolprice=7, volume=10, tag=TEE_SGX, category=1, salt=salt)
    )
    r = m["requester"].sign(
        RequestOrder(
            app=app,
            appmaxprice=5,
            dataset=dataset,
            datasetmaxprice=3,
            workerpool=ZERO_ADDRESS,
            workerpoolmaxprice=7,
            requester=requester,
            volume=volume,
            tag=TEE,
            category=category,
            beneficiary=requester,
            params='{"iexec_args": "hello"}',
            salt=salt,
        )
    )
    assert isinstance(a, AppOrder)
    assert isinstance(d, DatasetOrder)
    assert isinstance(w, WorkerpoolOrder)
    assert isinstance(r, RequestOrder)
    return a, d, w, r


@pytest.fixture(scope="module")
def funded(world: World) -> World:
    """The requester and the pool owner have escrow to spend."""
    world.markets["requester"].deposit(100_000)
    world.markets["pool"].deposit(100_000)
    return world


def test_deposit_and_withdraw_move_tokens_between_wallet_and_escrow(world: World) -> None:
    market = world.market(world.fresh_account(tokens=1_000))
    market.deposit(600)
    assert market.balance().free == 600
    assert market.token.balance_of(market.address) == 400
    market.withdraw(250)
    assert market.balance().free == 350
    assert market.token.balance_of(market.address) == 650


def test_withdrawing_more_than_the_balance_is_refused_in_words(world: World) -> None:
    market = world.market(world.fresh_account())
    with pytest.raises(ChainError) as caught:
        market.withdraw(10)
    assert caught.value.code == "ACCOUNT_BALANCE_INSUFFICIENT" or caught.value.code.endswith("INSUFFICIENT")
    assert "cannot withdraw 10 tokens" in caught.value.message


def test_an_account_without_ether_cannot_pay_for_gas(world: World) -> None:
    market = world.market(Account.create())
    with pytest.raises(ChainError) as caught:
        market.registry.create_dataset(name="x", uri="u", checksum=b"\1" * 32)
    assert caught.value.code == "CHAIN_INSUFFICIENT_FUNDS"


def test_registries_return_our_records_and_none_for_unknown_addresses(world: World) -> None:
    app, dataset, pool = register(world)
    reader = world.market(None).reader
    assert reader.app(app) is not None
    assert reader.app(app).fingerprint == b"\2" * 32  # type: ignore[union-attr]
    assert reader.dataset(dataset).url == "https://store/d"  # type: ignore[union-attr]
    assert reader.workerpool(pool).owner == world.accounts["pool"].address  # type: ignore[union-attr]
    stranger = Account.create().address
    assert reader.app(stranger) is None
    assert reader.dataset(stranger) is None
    assert reader.workerpool(stranger) is None
    assert reader.deal(b"\7" * 32) is None
    assert reader.task(b"\7" * 32) is None


def test_signed_orders_match_into_a_deal_the_reader_and_index_find(funded: World) -> None:
    world = funded
    app, dataset, pool = register(world)
    a, d, w, r = signed_orders(world, app, dataset, pool)
    requester = world.markets["requester"]
    domain = requester.domain()
    assert recover_order_signer(r, domain) == world.accounts["requester"].address
    assert requester.hub.order_hash("request", r) == requester.order_hash(r)
    before = requester.balance()
    plan = requester.plan(a, d, w, r)
    deal = requester.match(a, d, w, r)
    assert deal.volume == plan.volume == 2
    assert requester.balance().locked - before.locked == plan.total_price == 2 * 15
    assert requester.remaining(r) == 0

    reader = world.market(None).reader  # a second client: finds the deal through the event index
    record = reader.deal(deal.deal_id)
    assert record is not None
    assert (record.app, record.dataset, record.workerpool) == (app, dataset, pool)
    assert record.params == '{"iexec_args": "hello"}'
    assert record.category_time == 1200
    assert record.is_tee
    tasks = requester.tasks(deal)
    assert [t.status for t in tasks] == [HubTaskStatus.ACTIVE] * 2
    task = reader.task(tasks[1].task_id)
    assert task is not None
    assert (task.deal_id, task.index, task.status) == (deal.deal_id, 1, TaskStatus.ACTIVE)
    assert task.final_deadline == deal.deadline


def test_a_revert_reads_as_a_sentence_with_the_orders_values(funded: World) -> None:
    world = funded
    app, dataset, pool = register(world)
    a, d, w, r = signed_orders(world, app, dataset, pool, category=2)
    requester = world.markets["requester"]
    with pytest.raises(OrderError) as planned:
        requester.plan(a, d, w, r)
    assert planned.value.code == "ORDER_CATEGORY_MISMATCH"
    with pytest.raises(ChainError) as sent:  # straight to the chain: the revert, worded
        requester.match(a, d, w, r)
    assert sent.value.code == "ORDER_CATEGORY_MISMATCH"
    assert "request category 2 ≠ workerpool category 1" in sent.value.message


def test_a_request_naming_a_callback_without_code_is_refused_at_match(funded: World) -> None:
    """Issue 21 item 4: a result callback must be a contract (the hub's ``callback-not-contract``,
    read through the chain client as its code and sentence); nothing is locked."""
    world = funded
    app, dataset, pool = register(world)
    a, d, w, r = signed_orders(world, app, dataset, pool)
    requester = world.markets["requester"]
    signed = requester.sign(replace(r, callback=world.accounts["pool"].address, sign=b""))
    assert isinstance(signed, RequestOrder)
    before = requester.balance()
    with pytest.raises(ChainError) as sent:
        requester.match(a, d, w, signed)
    assert sent.value.code == "ORDER_CALLBACK_NOT_CONTRACT"
    assert "not a contract" in sent.value.message
    assert requester.balance() == before


def test_concurrent_sends_from_one_account_use_every_nonce_once(world: World) -> None:
    market = world.market(world.fresh_account(tokens=1_000))
    market.token.approve(market.hub.address, 1_000)
    barrier = threading.Barrier(6)

    def deposit(_: int) -> int:
        barrier.wait()
        return market.hub.send("deposit", [10], "deposit 10 tokens").block_number

    with ThreadPoolExecutor(6) as pool:
        blocks = list(pool.map(deposit, range(12)))
    assert len(blocks) == 12
    assert market.balance().free == 120
    nonce = world.rpc.w3.eth.get_transaction_count(market.address)
    assert nonce == 13  # the approve + 12 deposits, no gap, no reuse


def test_a_nonce_used_by_another_process_is_skipped(world: World) -> None:
    account = world.fresh_account()
    market = world.market(account)
    market.token.approve(market.hub.address, 100)  # the tracker now expects nonce 1
    w3 = world.rpc.w3
    stale = {
        "to": account.address,
        "value": 0,
        "gas": 21_000,
        "nonce": 1,
        "chainId": world.rpc.chain_id,
        "maxFeePerGas": 10**11,
        "maxPriorityFeePerGas": 10**9,
    }
    other = account.sign_transaction(stale)  # "another process" uses nonce 1 behind our back
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(other.raw_transaction))
    market.deposit(10)  # resynchronises once and lands with nonce 2
    assert market.balance().free == 10
    assert w3.eth.get_transaction_count(account.address) == 3


def test_the_event_reader_resumes_from_its_checkpoint(world: World, tmp_path: object) -> None:
    from pathlib import Path

    checkpoint = FileCheckpoint(Path(str(tmp_path)) / "checkpoint.json")
    market = world.market(None)
    reader = EventReader(
        world.rpc,
        market.registry.contract,
        checkpoint,
        stream="r",
        start_block=world.deployment.block,
        batch_blocks=5,
    )
    seen: list[str] = []
    reader.poll(lambda events: seen.extend(e.name for e in events))
    first = checkpoint.load("r")
    assert first is not None
    register(world)
    later: list[str] = []
    reader.poll(lambda events: later.extend(e.name for e in events), names=["AppCreated", "DatasetCreated"])
    assert later == ["AppCreated", "DatasetCreated"]  # only the new blocks were read
    assert checkpoint.load("r") > first  # type: ignore[operator]

    def crash(_events: object) -> None:
        raise RuntimeError("handler crashed")

    register(world)
    before = checkpoint.load("r")
    with pytest.raises(RuntimeError):
        reader.poll(crash)
    assert checkpoint.load("r") == before  # at least once: the range is read again next time


def test_claim_after_the_deadline_refunds_the_requester(funded: World) -> None:
    world = funded
    app, dataset, pool = register(world)
    a, d, w, r = signed_orders(world, app, dataset, pool, volume=1)
    requester = world.markets["requester"]
    deal: Deal = requester.match(a, d, w, r)
    task = requester.tasks(deal)[0]
    with pytest.raises(ChainError) as early:
        requester.claim([task.task_id])
    assert early.value.code == "TASK_DEADLINE_NOT_REACHED"
    locked = requester.balance().locked
    now = world.rpc.w3.eth.get_block("latest")["timestamp"]
    world.rpc.w3.provider.make_request("evm_increaseTime", [deal.deadline - now + 1])  # type: ignore[arg-type]
    world.rpc.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    requester.claim([task.task_id])
    assert requester.task(task.task_id).status == HubTaskStatus.CLAIMED  # type: ignore[union-attr]
    assert requester.balance().locked == locked - deal.task_price
    assert world.market(None).reader.task(task.task_id).status == TaskStatus.FAILED  # type: ignore[union-attr]


def test_the_deal_index_on_sqlite_and_postgresql(funded: World, sql_url: str) -> None:
    """Two indexes on one database (two replicas) sync at once: each deal indexed once, and
    a restarted index finds it from its checkpoint."""
    world = funded
    app, dataset, pool = register(world)
    deal = world.markets["requester"].match(*signed_orders(world, app, dataset, pool))
    engines = [create_database_engine(sql_url) for _ in range(2)]
    try:
        indexes = [Marketplace(world.rpc, hub=world.deployment.hub, index=engine,
                               start_block=world.deployment.block).deals for engine in engines]  # fmt: skip
        barrier = threading.Barrier(2)

        def sync(index: DealIndex) -> None:
            barrier.wait()
            index.sync()

        with ThreadPoolExecutor(2) as workers:
            list(workers.map(sync, indexes))
        for index in indexes:
            found = index.deal(deal.deal_id)
            assert found is not None
            assert (found.app, found.dataset, found.workerpool, found.volume) == (app, dataset, pool, 2)
        assert [d.deal_id for d in indexes[0].deals()].count(deal.deal_id) == 1
        assert SqlCheckpoint(engines[0]).load(f"deals:{world.deployment.hub}") is not None
    finally:
        for engine in engines:
            engine.dispose()
    restarted = create_database_engine(sql_url)
    try:
        index = DealIndex(world.market(None).hub, restarted, start_block=world.deployment.block)
        task = index.task(compute_task_id(deal.deal_id, 1))
        assert task is not None
        assert (task[0].deal_id, task[1]) == (deal.deal_id, 1)
    finally:
        restarted.dispose()


def test_a_read_only_client_refuses_to_send_or_sign(world: World) -> None:
    reader = world.market(None)
    for attempt in (
        lambda: reader.address,
        lambda: reader.deposit(10),
        lambda: reader.withdraw(10),
        lambda: reader.sign(AppOrder(app=ZERO_ADDRESS, appprice=1, volume=1, tag=TEE)),
        lambda: reader.registry.create_dataset(name="x", uri="u", checksum=b"\1" * 32),
    ):
        with pytest.raises(ChainError) as caught:
            attempt()
        assert caught.value.code == "CHAIN_NO_SENDER"


def test_deposits_must_be_positive_and_move_nothing_otherwise(world: World) -> None:
    market = world.market(world.fresh_account(tokens=1_000))
    nonce = world.rpc.w3.eth.get_transaction_count(market.address)
    for amount in (0, -5):
        with pytest.raises(ChainError) as caught:
            market.deposit(amount)
        assert caught.value.code == "CHAIN_INVALID_AMOUNT"
    assert market.balance().free == 0
    assert market.token.balance_of(market.address) == 1_000
    assert world.rpc.w3.eth.get_transaction_count(market.address) == nonce  # not even an approve
    market.deposit(1)  # the smallest positive amount is fine
    assert market.balance().free == 1


def test_a_client_checks_a_hub_is_deployed_where_it_points(world: World) -> None:
    for address in (Account.create().address, world.accounts["requester"].address):
        with pytest.raises(ChainError) as caught:
            Marketplace.checked(world.rpc, hub=address)
        assert caught.value.code == "CHAIN_NO_HUB"
    assert Marketplace.checked(world.rpc, hub=world.deployment.hub).hub.address == world.deployment.hub


def test_an_order_missing_a_field_is_refused_before_the_chain_is_asked(world: World) -> None:
    hub = world.market(None).hub
    whole = AppOrder(app=ZERO_ADDRESS, appprice=1, volume=1, tag=TEE)
    assert len(hub.order_hash("app", whole)) == 32
    fields = {"app": ZERO_ADDRESS, "appprice": 1, "volume": 1, "tag": TEE}  # no restrictions, salt, sign
    with pytest.raises(ChainError) as caught:
        hub.order_hash("app", fields)
    assert caught.value.code == "CHAIN_ORDER_FIELDS"


def test_an_event_the_transaction_did_not_emit_is_an_error_not_a_guess(world: World) -> None:
    market = world.market(world.fresh_account(tokens=100))
    receipt = market.deposit(10)
    with pytest.raises(ChainError) as caught:
        market.hub.event(receipt, "OrdersMatched")
    assert caught.value.code == "CHAIN_EVENT_MISSING"
    app = world.markets["developer"].registry.create_app(
        name=f"app-{secrets.token_hex(4)}", bundle_uri="file:///app", checksum=b"\1" * 32,
        fingerprint=b"\2" * 32, tee_technology=SGX,
    )  # fmt: skip
    assert app.address  # the same lookup finds the event a transaction did emit


def test_claims_name_known_tasks_of_one_deal(funded: World) -> None:
    world = funded
    requester = world.markets["requester"]
    deals = []
    for _ in range(2):
        app, dataset, pool = register(world)
        deals.append(requester.match(*signed_orders(world, app, dataset, pool, volume=1)))
    one, two = (requester.tasks(deal)[0].task_id for deal in deals)
    now = world.rpc.w3.eth.get_block("latest")["timestamp"]
    latest = max(deal.deadline for deal in deals)
    world.rpc.w3.provider.make_request("evm_increaseTime", [latest - now + 1])  # type: ignore[arg-type]
    world.rpc.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    locked = requester.balance().locked
    for task_ids, code in (
        ([one, b"\x09" * 32], "CHAIN_TASK_UNKNOWN"),
        ([one, two], "CHAIN_TASKS_OF_MANY_DEALS"),
    ):
        with pytest.raises(ChainError) as caught:
            requester.claim(task_ids)
        assert caught.value.code == code
    assert requester.balance().locked == locked  # nothing was claimed
    assert requester.task(one).status == HubTaskStatus.ACTIVE  # type: ignore[union-attr]
    requester.claim([one])  # each on its own is a valid claim
    requester.claim([two])
    assert requester.balance().locked == locked - sum(deal.task_price for deal in deals)
