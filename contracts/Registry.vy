# pragma version 0.4.3
"""
@title sealrun registry
@notice Apps, datasets and workerpools (like PoCo's three registries, in one contract).
        Each asset has an address-shaped id derived from its kind, its creator and its
        name, so an SDK can compute it before creating it. The hub reads owners through
        `owners()`, one call per match.
"""

# Bits 1-4 of a tag name the TEE technology (SGX, TDX, SEV-SNP, Nitro).
TEE_TECH_MASK: constant(uint256) = 30
MAX_NAME: constant(uint256) = 64
MAX_URI: constant(uint256) = 256

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
