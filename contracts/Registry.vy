# pragma version 0.4.3
"""
@title sealrun registry
@notice Apps, datasets and workerpools (like PoCo's three registries, in one contract).
        Each asset has an address-shaped id derived from its kind, its creator and its
        name, so an SDK can compute it before creating it. The hub reads owners through
        `owners()`, one call per match.
        Dataset grants (docs/decisions/0070-dataset-grants.md): a dataset owner grants an
        app (optionally one requester and one workerpool) a number of uses of a dataset at
        a price until an expiry, and may revoke the grant at any time. A hub counts uses
        through `useGrant` at match; uses are counted per calling hub, so only the hub
        the SMS trusts spends a grant that hub reads (anyone else calling `useGrant` only
        counts in its own column).
"""

# Bits 1-4 of a tag name the TEE technology (SGX, TDX, SEV-SNP, Nitro).
TEE_TECH_MASK: constant(uint256) = 30
MAX_NAME: constant(uint256) = 64
MAX_URI: constant(uint256) = 256
# A grant id is GRANT_MARK << 160 | n (n = 1, 2, ...): a dataset order whose salt has this
# mark in its top 96 bits references grant `salt` (a random salt has it with odds 2**-96).
GRANT_MARK: constant(uint256) = 35713337707280578449391054452  # "sealrungrant"

struct App:
    owner: address
    name: String[MAX_NAME]
    bundleURI: String[MAX_URI]
    checksum: bytes32
    fingerprint: bytes32
    teeTechnology: bytes32

struct Dataset:
    owner: address
    name: String[MAX_NAME]
    uri: String[MAX_URI]
    checksum: bytes32

struct Workerpool:
    owner: address
    description: String[MAX_URI]
    workerStakeRatio: uint256
    schedulerRewardRatio: uint256

event AppCreated:
    app: indexed(address)
    owner: indexed(address)
    name: String[MAX_NAME]
    bundleURI: String[MAX_URI]
    checksum: bytes32
    fingerprint: bytes32
    teeTechnology: bytes32

struct Grant:
    dataset: address
    owner: address
    app: address
    requester: address
    workerpool: address
    price: uint256
    maxUses: uint256
    expiry: uint256
    bulk: bool
    revoked: bool

event GrantCreated:
    grantId: indexed(bytes32)
    dataset: indexed(address)
    app: indexed(address)
    owner: address
    requester: address
    workerpool: address
    price: uint256
    maxUses: uint256
    expiry: uint256
    bulk: bool

event GrantRevoked:
    grantId: indexed(bytes32)
    dataset: indexed(address)

event GrantUsed:
    grantId: indexed(bytes32)
    hub: indexed(address)
    uses: uint256
    total: uint256

event DatasetCreated:
    dataset: indexed(address)
    owner: indexed(address)
    name: String[MAX_NAME]
    uri: String[MAX_URI]
    checksum: bytes32

event WorkerpoolCreated:
    workerpool: indexed(address)
    owner: indexed(address)
    description: String[MAX_URI]
    workerStakeRatio: uint256
    schedulerRewardRatio: uint256

event WorkerpoolPolicyUpdated:
    workerpool: indexed(address)
    workerStakeRatio: uint256
    schedulerRewardRatio: uint256

event AssetTransferred:
    asset: indexed(address)
    previous: indexed(address)
    owner: indexed(address)

apps: public(HashMap[address, App])
# workerpool -> owner | schedulerRewardRatio << 160: what the hub reads per match, in one slot.
pool_terms: HashMap[address, uint256]
datasets: public(HashMap[address, Dataset])
workerpools: public(HashMap[address, Workerpool])
grants: public(HashMap[bytes32, Grant])
grantCount: public(uint256)
# hub -> grant id -> uses counted by that hub at match.
grantUses: public(HashMap[address, HashMap[bytes32, uint256]])


@internal
@pure
def _asset_id(kind: String[10], creator: address, name: String[MAX_URI]) -> address:
    h: uint256 = convert(keccak256(abi_encode(kind, creator, name)), uint256)
    return convert(convert(h % 2**160, uint160), address)


@external
@view
def owners(app: address, dataset: address, workerpool: address) -> (address, address, address, uint256):
    """The owners of an app, a dataset (zero address for none) and a workerpool, and the
    pool's scheduler reward ratio: everything matchOrders needs, in one call."""
    dataset_owner: address = empty(address)
    if dataset != empty(address):
        dataset_owner = self.datasets[dataset].owner
    terms: uint256 = self.pool_terms[workerpool]
    return (
        self.apps[app].owner,
        dataset_owner,
        convert(convert(terms % 2**160, uint160), address),
        terms >> 160,
    )


@internal
def _set_pool_terms(workerpool: address, owner: address, ratio: uint256):
    self.pool_terms[workerpool] = convert(owner, uint256) | (ratio << 160)


@external
@view
def appOwner(app: address) -> address:
    """The owner of `app` (zero address if unknown)."""
    return self.apps[app].owner


@external
@view
def datasetOwner(dataset: address) -> address:
    """The owner of `dataset` (zero address if unknown)."""
    return self.datasets[dataset].owner


@external
@view
def workerpoolOwner(workerpool: address) -> address:
    """The owner of `workerpool` (zero address if unknown)."""
    return self.workerpools[workerpool].owner


@external
@view
def appId(creator: address, name: String[MAX_NAME]) -> address:
    """The id `createApp` gives an app named `name` created by `creator`."""
    return self._asset_id("app", creator, name)


@external
@view
def datasetId(creator: address, name: String[MAX_NAME]) -> address:
    """The id `createDataset` gives a dataset named `name` created by `creator`."""
    return self._asset_id("dataset", creator, name)


@external
@view
def workerpoolId(creator: address, description: String[MAX_URI]) -> address:
    """The id `createWorkerpool` gives a pool described `description` created by `creator`."""
    return self._asset_id("workerpool", creator, description)


@external
def createApp(
    name: String[MAX_NAME],
    bundleURI: String[MAX_URI],
    checksum: bytes32,
    fingerprint: bytes32,
    teeTechnology: bytes32,
) -> address:
    """Register an app (a measured bundle) owned by the caller; returns its id."""
    assert len(name) > 0, "name-empty"
    assert fingerprint != empty(bytes32), "fingerprint-empty"
    tech: uint256 = convert(teeTechnology, uint256)
    assert tech != 0 and tech & ~TEE_TECH_MASK == 0, "tee-technology"
    app: address = self._asset_id("app", msg.sender, name)
    assert self.apps[app].owner == empty(address), "asset-exists"
    self.apps[app] = App(
        owner=msg.sender, name=name, bundleURI=bundleURI, checksum=checksum,
        fingerprint=fingerprint, teeTechnology=teeTechnology,
    )
    log AppCreated(
        app=app, owner=msg.sender, name=name, bundleURI=bundleURI, checksum=checksum,
        fingerprint=fingerprint, teeTechnology=teeTechnology,
    )
    return app


@external
def createDataset(name: String[MAX_NAME], uri: String[MAX_URI], checksum: bytes32) -> address:
    """Register a dataset (sealed ciphertext at `uri`) owned by the caller; returns its id."""
    assert len(name) > 0, "name-empty"
    dataset: address = self._asset_id("dataset", msg.sender, name)
    assert self.datasets[dataset].owner == empty(address), "asset-exists"
    self.datasets[dataset] = Dataset(owner=msg.sender, name=name, uri=uri, checksum=checksum)
    log DatasetCreated(dataset=dataset, owner=msg.sender, name=name, uri=uri, checksum=checksum)
    return dataset


@external
def createWorkerpool(
    description: String[MAX_URI], workerStakeRatio: uint256, schedulerRewardRatio: uint256
) -> address:
    """Register a workerpool owned (scheduled) by the caller; ratios are percentages."""
    assert len(description) > 0, "name-empty"
    assert workerStakeRatio <= 100 and schedulerRewardRatio <= 100, "ratio-invalid"
    pool: address = self._asset_id("workerpool", msg.sender, description)
    assert self.workerpools[pool].owner == empty(address), "asset-exists"
    self.workerpools[pool] = Workerpool(
        owner=msg.sender, description=description, workerStakeRatio=workerStakeRatio,
        schedulerRewardRatio=schedulerRewardRatio,
    )
    self._set_pool_terms(pool, msg.sender, schedulerRewardRatio)
    log WorkerpoolCreated(
        workerpool=pool, owner=msg.sender, description=description,
        workerStakeRatio=workerStakeRatio, schedulerRewardRatio=schedulerRewardRatio,
    )
    return pool


@external
def setWorkerpoolPolicy(workerpool: address, workerStakeRatio: uint256, schedulerRewardRatio: uint256):
    """Change a pool's ratios; running deals keep the ratio they were matched with."""
    assert self.workerpools[workerpool].owner == msg.sender, "not-asset-owner"
    assert workerStakeRatio <= 100 and schedulerRewardRatio <= 100, "ratio-invalid"
    self.workerpools[workerpool].workerStakeRatio = workerStakeRatio
    self.workerpools[workerpool].schedulerRewardRatio = schedulerRewardRatio
    self._set_pool_terms(workerpool, msg.sender, schedulerRewardRatio)
    log WorkerpoolPolicyUpdated(
        workerpool=workerpool, workerStakeRatio=workerStakeRatio, schedulerRewardRatio=schedulerRewardRatio
    )


@external
def transferApp(app: address, owner: address):
    """Give `app` to `owner`; orders signed by the previous owner stop matching."""
    assert self.apps[app].owner == msg.sender, "not-asset-owner"
    assert owner != empty(address), "zero-address"
    self.apps[app].owner = owner
    log AssetTransferred(asset=app, previous=msg.sender, owner=owner)


@external
def transferDataset(dataset: address, owner: address):
    """Give `dataset` to `owner`; orders signed by the previous owner stop matching."""
    assert self.datasets[dataset].owner == msg.sender, "not-asset-owner"
    assert owner != empty(address), "zero-address"
    self.datasets[dataset].owner = owner
    log AssetTransferred(asset=dataset, previous=msg.sender, owner=owner)


@external
def transferWorkerpool(workerpool: address, owner: address):
    """Give `workerpool` to `owner`; running deals stay with the owner they were matched with."""
    assert self.workerpools[workerpool].owner == msg.sender, "not-asset-owner"
    assert owner != empty(address), "zero-address"
    self.workerpools[workerpool].owner = owner
    self._set_pool_terms(workerpool, owner, self.workerpools[workerpool].schedulerRewardRatio)
    log AssetTransferred(asset=workerpool, previous=msg.sender, owner=owner)


# ---------------------------------------------------------------- dataset grants


@external
def grant(
    dataset: address,
    app: address,
    requester: address,
    workerpool: address,
    price: uint256,
    maxUses: uint256,
    expiry: uint256,
    bulk: bool,
) -> bytes32:
    """Grant `app` (and only `requester` / `workerpool` when not zero) up to `maxUses`
    tasks on `dataset` at `price` each until `expiry` (unix seconds); dataset owner only."""
    assert self.datasets[dataset].owner == msg.sender, "not-asset-owner"
    assert app != empty(address), "zero-address"
    assert maxUses > 0 and maxUses < 2**64, "grant-uses"
    assert price < 2**128, "grant-price-range"
    assert expiry > block.timestamp and expiry < 2**64, "grant-expiry"
    n: uint256 = self.grantCount + 1
    self.grantCount = n
    grant_id: bytes32 = convert((GRANT_MARK << 160) | n, bytes32)
    self.grants[grant_id] = Grant(
        dataset=dataset, owner=msg.sender, app=app, requester=requester, workerpool=workerpool,
        price=price, maxUses=maxUses, expiry=expiry, bulk=bulk, revoked=False,
    )
    log GrantCreated(
        grantId=grant_id, dataset=dataset, app=app, owner=msg.sender, requester=requester,
        workerpool=workerpool, price=price, maxUses=maxUses, expiry=expiry, bulk=bulk,
    )
    return grant_id


@external
def revokeGrant(grantId: bytes32):
    """Revoke a grant for good: no new deal uses it and the SMS refuses its releases."""
    dataset: address = self.grants[grantId].dataset
    assert dataset != empty(address), "grant-unknown"
    assert self.datasets[dataset].owner == msg.sender, "not-asset-owner"
    assert not self.grants[grantId].revoked, "grant-revoked"
    self.grants[grantId].revoked = True
    log GrantRevoked(grantId=grantId, dataset=dataset)


@external
def useGrant(
    grantId: bytes32,
    dataset: address,
    app: address,
    requester: address,
    workerpool: address,
    price: uint256,
    volume: uint256,
) -> uint256:
    """Called by a hub at match: check the grant allows this deal, count min(volume, uses
    left) uses in the caller's column and return that count."""
    g: Grant = self.grants[grantId]
    assert g.dataset != empty(address) and g.dataset == dataset, "grant-unknown"
    assert g.owner == self.datasets[dataset].owner, "grant-owner"
    assert not g.revoked, "grant-revoked"
    assert block.timestamp < g.expiry, "grant-expired"
    assert g.app == app, "grant-app"
    assert g.requester == empty(address) or g.requester == requester, "grant-requester"
    assert g.workerpool == empty(address) or g.workerpool == workerpool, "grant-workerpool"
    assert g.price == price, "grant-price"
    used: uint256 = self.grantUses[msg.sender][grantId]
    assert used < g.maxUses, "grant-exhausted"
    uses: uint256 = min(volume, g.maxUses - used)
    self.grantUses[msg.sender][grantId] = used + uses
    log GrantUsed(grantId=grantId, hub=msg.sender, uses=uses, total=used + uses)
    return uses
