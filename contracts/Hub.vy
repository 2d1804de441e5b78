# pragma version 0.4.3
"""
@title sealrun hub
@notice The marketplace: escrow accounts, categories, EIP-712 orders, deals of
        confidential (TEE) tasks, results signed by attested enclaves, attested failure
        receipts and deadline claims.
@dev    Gas design (docs/contracts.md): a deal is NOT stored. Its id is the keccak256 of its
        ABI encoding; matchOrders emits the whole deal and marks the id as existing, and every
        task call passes the deal back in calldata, where its hash must give a known id.
        Each task's whole state is ONE slot keyed by its task id: 0 active, 2 failed, 3 claimed,
        >= 4 completed (the value is the result digest). Task 0's slot holds 1 while active: it
        is also the deal's existence marker, so a one-task deal creates a single slot at match
        and finalize overwrites it. Balances pack free and locked halves in one slot.
        Revert reasons are short stable strings, listed with sentences in
        src/sealrun/adapters/chain/artifacts/revert_reasons.json.
"""

from ethereum.ercs import IERC20

import accounts
import orders
import signatures

initializes: accounts


interface IRegistry:
    def owners(app: address, dataset: address, workerpool: address) -> (address, address, address, uint256): view
    def appOwner(app: address) -> address: view
    def datasetOwner(dataset: address) -> address: view
    def workerpoolOwner(workerpool: address) -> address: view
    def useGrant(
        grantId: bytes32, dataset: address, app: address, requester: address, workerpool: address,
        price: uint256, volume: uint256,
    ) -> uint256: nonpayable


exports: (
    accounts.deposit,
    accounts.depositFor,
    accounts.withdraw,
    accounts.balanceOf,
    accounts.lockedOf,
    accounts.token,
)

# Tag bit 0: the task runs in a TEE. Every sealrun deal has it.
TEE_BIT: constant(uint256) = 1
# Like PoCo: a task may be finalized until start + 10 x the category's max time.
FINAL_DEADLINE_RATIO: constant(uint256) = 10
# Like PoCo: the pool owner (scheduler) stakes 30% of the pool price per task.
WORKERPOOL_STAKE_RATIO: constant(uint256) = 30
MAX_RESULT_URI: constant(uint256) = 512
MAX_BATCH: constant(uint256) = 128
MAX_CLAIM_BATCH: constant(uint256) = 512
# A dataset order whose salt carries this mark in its top 96 bits references the registry
# grant `salt` (docs/decisions/0070-dataset-grants.md).
GRANT_MARK: constant(uint256) = 35713337707280578449391054452  # "sealrungrant"
# Result callbacks (iExec's convention): the deal's callback contract receives
# receiveResult(taskid, abi_encode(digest)) with exactly this much gas; its failure never
# blocks settlement. EIP-150 passes on at most 63/64 of what is left, so a call is only
# made when the whole cap can be forwarded (a worker cannot starve it with a low gas limit).
CALLBACK_GAS: constant(uint256) = 200000
CALLBACK_GAS_NEEDED: constant(uint256) = CALLBACK_GAS * 64 // 63 + 5000

# Values of task_state[taskid]. Result digests (sha256) below 4 are refused: they would be
# read as a state. Task 0 holds TASK0_ACTIVE from matchOrders on: the deal exists.
TASK_ACTIVE: constant(uint256) = 0
TASK0_ACTIVE: constant(uint256) = 1
TASK_FAILED: constant(uint256) = 2
TASK_CLAIMED: constant(uint256) = 3
FIRST_DIGEST: constant(uint256) = 4

# taskStatus() values.
STATUS_UNSET: constant(uint256) = 0
STATUS_ACTIVE: constant(uint256) = 1
STATUS_COMPLETED: constant(uint256) = 2
STATUS_FAILED: constant(uint256) = 3
STATUS_CLAIMED: constant(uint256) = 4

struct Category:
    name: String[64]
    description: String[256]
    maxTime: uint256

struct Deal:
    app: address
    appOwner: address
    appPrice: uint256
    dataset: address
    datasetOwner: address
    datasetPrice: uint256
    workerpool: address
    workerpoolOwner: address
    workerpoolPrice: uint256
    schedulerRewardRatio: uint256
    stake: uint256
    requester: address
    beneficiary: address
    callback: address
    category: uint256
    tag: bytes32
    trust: uint256
    startTime: uint256
    deadline: uint256
    botFirst: uint256
    volume: uint256
    requestHash: bytes32

struct TaskResult:
    index: uint256
    digest: bytes32
    enclave: address
    authorization: Bytes[65]
    enclaveSignature: Bytes[65]
    resultURI: String[MAX_RESULT_URI]
    receiptDigest: bytes32

event OwnershipTransferred:
    previous: indexed(address)
    owner: indexed(address)

event CategoryCreated:
    id: indexed(uint256)
    name: String[64]
    description: String[256]
    maxTime: uint256

event OrderPresigned:
    orderHash: indexed(bytes32)
    signer: indexed(address)

event OrderClosed:
    orderHash: indexed(bytes32)
    signer: indexed(address)

event OrdersMatched:
    dealid: indexed(bytes32)
    workerpool: indexed(address)
    requester: indexed(address)
    appHash: bytes32
    datasetHash: bytes32
    workerpoolHash: bytes32
    requestHash: bytes32
    volume: uint256
    deal: Deal
    params: String[orders.MAX_PARAMS]

event TaskCompleted:
    taskid: indexed(bytes32)
    dealid: indexed(bytes32)
    index: uint256
    worker: address
    digest: bytes32
    resultURI: String[MAX_RESULT_URI]
    receiptDigest: bytes32

event CallbackFailed:
    taskid: indexed(bytes32)
    callback: indexed(address)
    isContract: bool

event TaskFailed:
    taskid: indexed(bytes32)
    dealid: indexed(bytes32)
    index: uint256
    worker: address
    code: uint256
    logDigest: bytes32
    receiptDigest: bytes32

event TaskClaimed:
    taskid: indexed(bytes32)
    dealid: indexed(bytes32)
    index: uint256
    refund: uint256
    seized: uint256

registry: public(immutable(IRegistry))
owner: public(address)
categories: public(HashMap[uint256, Category])
categoryCount: public(uint256)
# EIP-712 digest of an order -> the signer who pre-signed it on chain.
presigned: public(HashMap[bytes32, address])
# EIP-712 digest of an order -> volume consumed (max_value(uint256) once closed).
consumed: public(HashMap[bytes32, uint256])
# taskid -> state (see TASK_* above) or, once completed, the sha256 of the output archive.
task_state: HashMap[bytes32, uint256]


@deploy
def __init__(token: IERC20, registry_: IRegistry):
    accounts.__init__(token)
    registry = registry_
    self.owner = msg.sender
    log OwnershipTransferred(previous=empty(address), owner=msg.sender)
    self._create_category("XS", "extra small: up to 5 minutes", 300)
    self._create_category("S", "small: up to 20 minutes", 1200)
    self._create_category("M", "medium: up to 1 hour", 3600)
    self._create_category("L", "large: up to 3 hours", 10800)
    self._create_category("XL", "extra large: up to 10 hours", 36000)


# ---------------------------------------------------------------- hub owner, categories


@external
def transferOwnership(owner: address):
    """Hand the hub (category creation) to `owner`."""
    assert msg.sender == self.owner, "not-hub-owner"
    assert owner != empty(address), "zero-address"
    log OwnershipTransferred(previous=self.owner, owner=owner)
    self.owner = owner


@external
def createCategory(name: String[64], description: String[256], maxTime: uint256) -> uint256:
    """Create a category of tasks lasting at most `maxTime` seconds; returns its id."""
    assert msg.sender == self.owner, "not-hub-owner"
    return self._create_category(name, description, maxTime)


@internal
def _create_category(name: String[64], description: String[256], maxTime: uint256) -> uint256:
    assert maxTime > 0, "category-time"
    id: uint256 = self.categoryCount
    self.categories[id] = Category(name=name, description=description, maxTime=maxTime)
    self.categoryCount = id + 1
    log CategoryCreated(id=id, name=name, description=description, maxTime=maxTime)
    return id


# ---------------------------------------------------------------- orders


@external
@view
def domainSeparator() -> bytes32:
    """The EIP-712 domain separator {name: "sealrun", version: "1", chainId, this hub}."""
    return orders.domain_separator()


@external
@view
def appOrderHash(o: orders.AppOrder) -> bytes32:
    """The EIP-712 digest an app order's owner signs (and `consumed` is keyed by)."""
    return orders.typed_digest(orders.domain_separator(), orders.hash_app(o))


@external
@view
def datasetOrderHash(o: orders.DatasetOrder) -> bytes32:
    """The EIP-712 digest a dataset order's owner signs."""
    return orders.typed_digest(orders.domain_separator(), orders.hash_dataset(o))


@external
@view
def workerpoolOrderHash(o: orders.WorkerpoolOrder) -> bytes32:
    """The EIP-712 digest a workerpool order's owner signs."""
    return orders.typed_digest(orders.domain_separator(), orders.hash_workerpool(o))


@external
@view
def requestOrderHash(o: orders.RequestOrder) -> bytes32:
    """The EIP-712 digest a request order's requester signs."""
    return orders.typed_digest(orders.domain_separator(), orders.hash_request(o))


@internal
def _manage(digest: bytes32, signer: address, close: bool):
    if close:
        self.consumed[digest] = max_value(uint256)
        log OrderClosed(orderHash=digest, signer=signer)
    else:
        self.presigned[digest] = signer
        log OrderPresigned(orderHash=digest, signer=signer)


@external
def manageAppOrder(o: orders.AppOrder, close: bool):
    """Pre-sign (close=False) or close for good (close=True) an app order; app owner only."""
    assert staticcall registry.appOwner(o.app) == msg.sender, "not-order-signer"
    self._manage(orders.typed_digest(orders.domain_separator(), orders.hash_app(o)), msg.sender, close)


@external
def manageDatasetOrder(o: orders.DatasetOrder, close: bool):
    """Pre-sign or close a dataset order; dataset owner only."""
    assert staticcall registry.datasetOwner(o.dataset) == msg.sender, "not-order-signer"
    self._manage(orders.typed_digest(orders.domain_separator(), orders.hash_dataset(o)), msg.sender, close)


@external
def manageWorkerpoolOrder(o: orders.WorkerpoolOrder, close: bool):
    """Pre-sign or close a workerpool order; workerpool owner only."""
    assert staticcall registry.workerpoolOwner(o.workerpool) == msg.sender, "not-order-signer"
    self._manage(
        orders.typed_digest(orders.domain_separator(), orders.hash_workerpool(o)), msg.sender, close
    )


@external
def manageRequestOrder(o: orders.RequestOrder, close: bool):
    """Pre-sign or close a request order; its requester only."""
    assert o.requester == msg.sender, "not-order-signer"
    self._manage(orders.typed_digest(orders.domain_separator(), orders.hash_request(o)), msg.sender, close)


@internal
@view
def _signed_by(digest: bytes32, sign: Bytes[65], signer: address) -> bool:
    if signer == empty(address):
        return False
    if len(sign) == 0:
        return self.presigned[digest] == signer
    return signatures.recover(digest, sign) == signer


@internal
@view
def _remaining(consumed: uint256, volume: uint256) -> uint256:
    # Closed orders carry consumed = max_value(uint256) and have nothing left.
    if consumed >= volume:
        return 0
    return volume - consumed


# ---------------------------------------------------------------- matching


@external
@nonreentrant
def matchOrders(
    a: orders.AppOrder, d: orders.DatasetOrder, w: orders.WorkerpoolOrder, r: orders.RequestOrder
) -> bytes32:
    """
    @notice Match four orders into a deal of min(remaining volumes) TEE tasks. Locks the
            price of every task from the requester and the scheduler stake from the pool owner.
            A deal without dataset passes a DatasetOrder whose dataset is the zero address.
    @return The deal id: keccak256 of the ABI-encoded Deal emitted in OrdersMatched.
    """
    # Compatibility, in PoCo's order; each check has its own reason.
    assert r.category == w.category, "category-mismatch"
    # Every category has maxTime > 0, so a zero reads as "no such category" (one SLOAD, not two).
    max_time: uint256 = self.categories[r.category].maxTime
    assert max_time != 0, "category-unknown"
    assert r.trust <= 1, "trust-unsupported"
    assert r.trust <= w.trust, "trust-mismatch"
    assert a.appprice <= r.appmaxprice, "app-price"
    has_dataset: bool = d.dataset != empty(address)
    dataset_price: uint256 = 0
    tag: uint256 = convert(a.tag, uint256) | convert(r.tag, uint256)
    if has_dataset:
        dataset_price = d.datasetprice
        tag |= convert(d.tag, uint256)
    assert dataset_price <= r.datasetmaxprice, "dataset-price"
    assert w.workerpoolprice <= r.workerpoolmaxprice, "workerpool-price"
    assert tag & TEE_BIT != 0, "tee-required"
    assert tag & ~convert(w.tag, uint256) == 0, "tag-coverage"
    assert r.app == a.app, "app-mismatch"
    assert r.dataset == d.dataset, "dataset-mismatch"
    assert r.workerpool == empty(address) or r.workerpool == w.workerpool, "workerpool-mismatch"
    assert a.datasetrestrict == empty(address) or a.datasetrestrict == d.dataset, "app-dataset-restrict"
    assert a.workerpoolrestrict == empty(address) or a.workerpoolrestrict == w.workerpool, "app-workerpool-restrict"
    assert a.requesterrestrict == empty(address) or a.requesterrestrict == r.requester, "app-requester-restrict"
    if has_dataset:
        assert d.apprestrict == empty(address) or d.apprestrict == a.app, "dataset-app-restrict"
        assert d.workerpoolrestrict == empty(address) or d.workerpoolrestrict == w.workerpool, "dataset-workerpool-restrict"
        assert d.requesterrestrict == empty(address) or d.requesterrestrict == r.requester, "dataset-requester-restrict"
    assert w.apprestrict == empty(address) or w.apprestrict == a.app, "workerpool-app-restrict"
    assert w.datasetrestrict == empty(address) or w.datasetrestrict == d.dataset, "workerpool-dataset-restrict"
    assert w.requesterrestrict == empty(address) or w.requesterrestrict == r.requester, "workerpool-requester-restrict"
    # A callback must be code when the deal is made (settlement still survives one that is not).
    assert r.callback == empty(address) or r.callback.is_contract, "callback-not-contract"

    # Registry: the current owners sign the orders and are paid by the deal.
    app_owner: address = empty(address)
    dataset_owner: address = empty(address)
    pool_owner: address = empty(address)
    scheduler_ratio: uint256 = 0
    app_owner, dataset_owner, pool_owner, scheduler_ratio = staticcall registry.owners(
        a.app, d.dataset, w.workerpool
    )
    assert app_owner != empty(address), "app-unknown"
    assert not has_dataset or dataset_owner != empty(address), "dataset-unknown"
    assert pool_owner != empty(address), "workerpool-unknown"

    # Signatures.
    domain: bytes32 = orders.domain_separator()
    app_hash: bytes32 = orders.typed_digest(domain, orders.hash_app(a))
    assert self._signed_by(app_hash, a.sign, app_owner), "app-signature"
    dataset_hash: bytes32 = empty(bytes32)
    # A grant stands for the dataset owner's signature and volume (counted by the registry).
    # OrdersMatched then carries the grant id as its datasetHash (no storage: the SMS reads it
    # from the event, through the deal index).
    granted: bool = has_dataset and convert(d.salt, uint256) >> 160 == GRANT_MARK
    if granted:
        dataset_hash = d.salt
    if has_dataset and not granted:
        dataset_hash = orders.typed_digest(domain, orders.hash_dataset(d))
        assert self._signed_by(dataset_hash, d.sign, dataset_owner), "dataset-signature"
    pool_hash: bytes32 = orders.typed_digest(domain, orders.hash_workerpool(w))
    assert self._signed_by(pool_hash, w.sign, pool_owner), "workerpool-signature"
    request_hash: bytes32 = orders.typed_digest(domain, orders.hash_request(r))
    assert self._signed_by(request_hash, r.sign, r.requester), "request-signature"

    # Volumes: the deal takes what every order still has.
    app_consumed: uint256 = self.consumed[app_hash]
    assert app_consumed != max_value(uint256), "app-closed"
    volume: uint256 = self._remaining(app_consumed, a.volume)
    assert volume > 0, "app-volume"
    dataset_consumed: uint256 = 0
    if has_dataset and not granted:
        dataset_consumed = self.consumed[dataset_hash]
        assert dataset_consumed != max_value(uint256), "dataset-closed"
        left: uint256 = self._remaining(dataset_consumed, d.volume)
        assert left > 0, "dataset-volume"
        volume = min(volume, left)
    pool_consumed: uint256 = self.consumed[pool_hash]
    assert pool_consumed != max_value(uint256), "workerpool-closed"
    pool_left: uint256 = self._remaining(pool_consumed, w.volume)
    assert pool_left > 0, "workerpool-volume"
    volume = min(volume, pool_left)
    request_consumed: uint256 = self.consumed[request_hash]
    assert request_consumed != max_value(uint256), "request-closed"
    request_left: uint256 = self._remaining(request_consumed, r.volume)
    assert request_left > 0, "request-volume"
    volume = min(volume, request_left)
    if granted:
        volume = extcall registry.useGrant(
            d.salt, d.dataset, a.app, r.requester, w.workerpool, dataset_price, volume
        )
    self.consumed[app_hash] = app_consumed + volume
    if has_dataset and not granted:
        self.consumed[dataset_hash] = dataset_consumed + volume
    self.consumed[pool_hash] = pool_consumed + volume
    self.consumed[request_hash] = request_consumed + volume

    # Escrow.
    price: uint256 = a.appprice + dataset_price + w.workerpoolprice
    stake: uint256 = w.workerpoolprice * WORKERPOOL_STAKE_RATIO // 100
    assert accounts.free_of(r.requester) >= price * volume, "requester-balance"
    accounts.lock(r.requester, price * volume)
    assert accounts.free_of(pool_owner) >= stake * volume, "workerpool-stake"
    accounts.lock(pool_owner, stake * volume)

    deal: Deal = Deal(
        app=a.app,
        appOwner=app_owner,
        appPrice=a.appprice,
        dataset=d.dataset,
        datasetOwner=dataset_owner,
        datasetPrice=dataset_price,
        workerpool=w.workerpool,
        workerpoolOwner=pool_owner,
        workerpoolPrice=w.workerpoolprice,
        schedulerRewardRatio=scheduler_ratio,
        stake=stake,
        requester=r.requester,
        beneficiary=r.beneficiary,
        callback=r.callback,
        category=r.category,
        tag=convert(tag, bytes32),
        trust=1,
        startTime=block.timestamp,
        deadline=block.timestamp + max_time * FINAL_DEADLINE_RATIO,
        botFirst=request_consumed,
        volume=volume,
        requestHash=request_hash,
    )
    dealid: bytes32 = keccak256(abi_encode(deal))
    self.task_state[self._task_id(dealid, 0)] = TASK0_ACTIVE
    log OrdersMatched(
        dealid=dealid,
        workerpool=w.workerpool,
        requester=r.requester,
        appHash=app_hash,
        datasetHash=dataset_hash,
        workerpoolHash=pool_hash,
        requestHash=request_hash,
        volume=volume,
        deal=deal,
        params=r.params,
    )
    return dealid


# ---------------------------------------------------------------- tasks


@internal
@view
def _known_deal(deal: Deal) -> bytes32:
    dealid: bytes32 = keccak256(abi_encode(deal))
    assert self.task_state[self._task_id(dealid, 0)] != 0, "deal-unknown"
    return dealid


@internal
@pure
def _task_id(dealid: bytes32, index: uint256) -> bytes32:
    return keccak256(concat(dealid, convert(index, bytes32)))


@internal
@view
def _open_task(dealid: bytes32, deal: Deal, index: uint256) -> bytes32:
    """Check task `index` is still active and return its id."""
    assert index < deal.volume, "task-index"
    taskid: bytes32 = self._task_id(dealid, index)
    state: uint256 = self.task_state[taskid]
    assert state != TASK_FAILED, "task-failed"
    assert state != TASK_CLAIMED, "task-claimed"
    assert state < FIRST_DIGEST, "task-completed"
    return taskid




@internal
@view
def _check_authorization(deal: Deal, taskid: bytes32, enclave: address, authorization: Bytes[65]):
    # The worker is msg.sender: only the worker the scheduler named can use its authorization.
    assert enclave != empty(address), "enclave-missing"
    digest: bytes32 = keccak256(concat(convert(msg.sender, bytes20), taskid, convert(enclave, bytes20)))
    signer: address = signatures.recover(signatures.personal_digest(digest), authorization)
    assert signer == deal.workerpoolOwner, "authorization-invalid"


@internal
def _complete(
    dealid: bytes32,
    deal: Deal,
    index: uint256,
    digest: bytes32,
    enclave: address,
    authorization: Bytes[65],
    enclaveSignature: Bytes[65],
    receiptDigest: bytes32,
) -> bytes32:
    """Check one task's result and record its digest; return the task id.
    The enclave signed (resultHash, resultSeal, receiptDigest): its task receipt is bound here."""
    assert convert(digest, uint256) >= FIRST_DIGEST, "digest-invalid"
    taskid: bytes32 = self._open_task(dealid, deal, index)
    self._check_authorization(deal, taskid, enclave, authorization)
    result_hash: bytes32 = keccak256(concat(taskid, digest))
    result_seal: bytes32 = keccak256(concat(convert(msg.sender, bytes20), taskid, digest))
    signed: bytes32 = signatures.personal_digest(keccak256(concat(result_hash, result_seal, receiptDigest)))
    assert signatures.recover(signed, enclaveSignature) == enclave, "enclave-signature"
    self.task_state[taskid] = convert(digest, uint256)
    return taskid


@internal
def _pay(deal: Deal, count: uint256):
    """Pay `count` completed tasks: app owner, dataset owner, worker, scheduler; unlock stake."""
    scheduler_reward: uint256 = deal.workerpoolPrice * deal.schedulerRewardRatio // 100
    price: uint256 = deal.appPrice + deal.datasetPrice + deal.workerpoolPrice
    accounts.settle(deal.requester, 0, price * count)
    accounts.settle(deal.appOwner, deal.appPrice * count, 0)
    accounts.settle(deal.datasetOwner, deal.datasetPrice * count, 0)
    accounts.settle(msg.sender, (deal.workerpoolPrice - scheduler_reward) * count, 0)
    accounts.settle(deal.workerpoolOwner, (deal.stake + scheduler_reward) * count, deal.stake * count)


@internal
def _callback(target: address, taskid: bytes32, digest: bytes32):
    """Call the deal's callback with the result, after every state change and payment of the
    task: a reverting, gas-burning or missing callee only logs CallbackFailed. The hub is
    locked (@nonreentrant) during the call, so a callee cannot re-enter it."""
    assert msg.gas >= CALLBACK_GAS_NEEDED, "callback-gas"
    ok: bool = False
    if target.is_contract:
        ok = raw_call(
            target,
            abi_encode(taskid, abi_encode(digest), method_id=method_id("receiveResult(bytes32,bytes)")),
            gas=CALLBACK_GAS,
            revert_on_failure=False,
        )
    if not ok:
        log CallbackFailed(taskid=taskid, callback=target, isContract=target.is_contract)


@external
@nonreentrant
def finalize(
    deal: Deal,
    index: uint256,
    digest: bytes32,
    enclave: address,
    authorization: Bytes[65],
    enclaveSignature: Bytes[65],
    resultURI: String[MAX_RESULT_URI],
    receiptDigest: bytes32,
):
    """
    @notice Complete task `index` of `deal` with the result whose archive has sha256 `digest`.
            The caller is the worker; `authorization` is the pool owner's EIP-191 signature
            over (worker, taskid, enclave) and `enclaveSignature` the enclave challenge key's
            over (resultHash, resultSeal, receiptDigest). Pays everyone and unlocks the stake.
            `receiptDigest` (the task receipt's digest) is logged, not stored.
    """
    dealid: bytes32 = self._known_deal(deal)
    assert block.timestamp < deal.deadline, "deadline-passed"
    taskid: bytes32 = self._complete(
        dealid, deal, index, digest, enclave, authorization, enclaveSignature, receiptDigest
    )
    log TaskCompleted(
        taskid=taskid,
        dealid=dealid,
        index=index,
        worker=msg.sender,
        digest=digest,
        resultURI=resultURI,
        receiptDigest=receiptDigest,
    )
    self._pay(deal, 1)
    if deal.callback != empty(address):
        self._callback(deal.callback, taskid, digest)


@external
@nonreentrant
def finalizeMany(deal: Deal, tasks: DynArray[TaskResult, MAX_BATCH]):
    """Complete several tasks of one deal, all run by the caller; pays once per account."""
    assert len(tasks) > 0, "batch-empty"
    dealid: bytes32 = self._known_deal(deal)
    assert block.timestamp < deal.deadline, "deadline-passed"
    for t: TaskResult in tasks:
        taskid: bytes32 = self._complete(
            dealid, deal, t.index, t.digest, t.enclave, t.authorization, t.enclaveSignature, t.receiptDigest
        )
        log TaskCompleted(
            taskid=taskid,
            dealid=dealid,
            index=t.index,
            worker=msg.sender,
            digest=t.digest,
            resultURI=t.resultURI,
            receiptDigest=t.receiptDigest,
        )
    self._pay(deal, len(tasks))
    if deal.callback != empty(address):
        for t: TaskResult in tasks:
            self._callback(deal.callback, self._task_id(dealid, t.index), t.digest)


@external
@nonreentrant
def reportFailure(
    deal: Deal,
    index: uint256,
    code: uint256,
    logDigest: bytes32,
    enclave: address,
    authorization: Bytes[65],
    enclaveSignature: Bytes[65],
    receiptDigest: bytes32,
):
    """
    @notice Close task `index` with the enclave's attested failure receipt: the enclave
            challenge key signed (taskid, code, logDigest, receiptDigest). Refunds the requester at once and
            unlocks the pool owner's stake. The caller is the authorized worker.
    """
    dealid: bytes32 = self._known_deal(deal)
    assert block.timestamp < deal.deadline, "deadline-passed"
    assert code != 0, "failure-code"
    taskid: bytes32 = self._open_task(dealid, deal, index)
    self._check_authorization(deal, taskid, enclave, authorization)
    signed: bytes32 = signatures.personal_digest(
        keccak256(concat(taskid, convert(code, bytes32), logDigest, receiptDigest))
    )
    assert signatures.recover(signed, enclaveSignature) == enclave, "enclave-signature"
    self.task_state[taskid] = TASK_FAILED
    price: uint256 = deal.appPrice + deal.datasetPrice + deal.workerpoolPrice
    accounts.settle(deal.requester, price, price)
    accounts.settle(deal.workerpoolOwner, deal.stake, deal.stake)
    log TaskFailed(
        taskid=taskid,
        dealid=dealid,
        index=index,
        worker=msg.sender,
        code=code,
        logDigest=logDigest,
        receiptDigest=receiptDigest,
    )


@internal
def _claim(dealid: bytes32, deal: Deal, index: uint256, price: uint256):
    taskid: bytes32 = self._open_task(dealid, deal, index)
    self.task_state[taskid] = TASK_CLAIMED
    log TaskClaimed(taskid=taskid, dealid=dealid, index=index, refund=price, seized=deal.stake)


@external
@nonreentrant
def claim(deal: Deal, index: uint256):
    """
    @notice After the deal's final deadline, close an unfinished task: the requester gets
            its price back plus the scheduler's seized stake for the task. Anyone may call.
    """
    dealid: bytes32 = self._known_deal(deal)
    assert block.timestamp >= deal.deadline, "deadline-not-reached"
    price: uint256 = deal.appPrice + deal.datasetPrice + deal.workerpoolPrice
    self._claim(dealid, deal, index, price)
    accounts.settle(deal.requester, price + deal.stake, price)
    accounts.settle(deal.workerpoolOwner, 0, deal.stake)


@external
@nonreentrant
def claimMany(deal: Deal, indices: DynArray[uint256, MAX_CLAIM_BATCH]):
    """`claim` for several tasks of one deal, with one balance update per account."""
    assert len(indices) > 0, "batch-empty"
    dealid: bytes32 = self._known_deal(deal)
    assert block.timestamp >= deal.deadline, "deadline-not-reached"
    price: uint256 = deal.appPrice + deal.datasetPrice + deal.workerpoolPrice
    for index: uint256 in indices:
        self._claim(dealid, deal, index, price)
    count: uint256 = len(indices)
    accounts.settle(deal.requester, (price + deal.stake) * count, price * count)
    accounts.settle(deal.workerpoolOwner, 0, deal.stake * count)


# ---------------------------------------------------------------- views


@external
@pure
def dealId(deal: Deal) -> bytes32:
    """The id of `deal`: keccak256 of its ABI encoding."""
    return keccak256(abi_encode(deal))


@external
@pure
def taskId(dealid: bytes32, index: uint256) -> bytes32:
    """keccak256(dealid ‖ index), as sealrun.core.tasks.task_id."""
    return self._task_id(dealid, index)


@external
@view
def dealExists(dealid: bytes32) -> bool:
    """Whether matchOrders created a deal with this id."""
    return self.task_state[self._task_id(dealid, 0)] != 0


@external
@view
def results(taskid: bytes32) -> bytes32:
    """The result digest of a completed task (zero while it is not completed)."""
    state: uint256 = self.task_state[taskid]
    if state < FIRST_DIGEST:
        return empty(bytes32)
    return convert(state, bytes32)


@external
@view
def taskStatus(dealid: bytes32, index: uint256) -> uint256:
    """0 unset (no such deal), 1 active, 2 completed, 3 failed, 4 claimed.
    An index past the deal's volume reads as active: the caller knows the volume."""
    if self.task_state[self._task_id(dealid, 0)] == 0:
        return STATUS_UNSET
    state: uint256 = self.task_state[self._task_id(dealid, index)]
    if state >= FIRST_DIGEST:
        return STATUS_COMPLETED
    if state == TASK_FAILED:
        return STATUS_FAILED
    if state == TASK_CLAIMED:
        return STATUS_CLAIMED
    return STATUS_ACTIVE
