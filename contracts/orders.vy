# pragma version 0.4.3
"""
@title orders
@notice The four iExec PoCo v5 order types and their EIP-712 hashes, with the domain
        {name: "sealrun", version: "1", chainId, verifyingContract: hub}. The type strings
        here and in sealrun.core.orders.typed_data must stay identical; a test checks it.
"""

# Bound of RequestOrder.params (JSON: iexec_args, input files, secrets, ...).
MAX_PARAMS: constant(uint256) = 4096

struct AppOrder:
    app: address
    appprice: uint256
    volume: uint256
    tag: bytes32
    datasetrestrict: address
    workerpoolrestrict: address
    requesterrestrict: address
    salt: bytes32
    sign: Bytes[65]

struct DatasetOrder:
    dataset: address
    datasetprice: uint256
    volume: uint256
    tag: bytes32
    apprestrict: address
    workerpoolrestrict: address
    requesterrestrict: address
    salt: bytes32
    sign: Bytes[65]

struct WorkerpoolOrder:
    workerpool: address
    workerpoolprice: uint256
    volume: uint256
    tag: bytes32
    category: uint256
    trust: uint256
    apprestrict: address
    datasetrestrict: address
    requesterrestrict: address
    salt: bytes32
    sign: Bytes[65]

struct RequestOrder:
    app: address
    appmaxprice: uint256
    dataset: address
    datasetmaxprice: uint256
    workerpool: address
    workerpoolmaxprice: uint256
    requester: address
    volume: uint256
    tag: bytes32
    category: uint256
    trust: uint256
    beneficiary: address
    callback: address
    params: String[MAX_PARAMS]
    salt: bytes32
    sign: Bytes[65]

DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
NAME_HASH: constant(bytes32) = keccak256("sealrun")
VERSION_HASH: constant(bytes32) = keccak256("1")
APP_TYPEHASH: constant(bytes32) = keccak256(
    "AppOrder(address app,uint256 appprice,uint256 volume,bytes32 tag,address datasetrestrict,"
    "address workerpoolrestrict,address requesterrestrict,bytes32 salt)"
)
DATASET_TYPEHASH: constant(bytes32) = keccak256(
    "DatasetOrder(address dataset,uint256 datasetprice,uint256 volume,bytes32 tag,address apprestrict,"
    "address workerpoolrestrict,address requesterrestrict,bytes32 salt)"
)
WORKERPOOL_TYPEHASH: constant(bytes32) = keccak256(
    "WorkerpoolOrder(address workerpool,uint256 workerpoolprice,uint256 volume,bytes32 tag,"
    "uint256 category,uint256 trust,address apprestrict,address datasetrestrict,"
    "address requesterrestrict,bytes32 salt)"
)
REQUEST_TYPEHASH: constant(bytes32) = keccak256(
    "RequestOrder(address app,uint256 appmaxprice,address dataset,uint256 datasetmaxprice,"
    "address workerpool,uint256 workerpoolmaxprice,address requester,uint256 volume,bytes32 tag,"
    "uint256 category,uint256 trust,address beneficiary,address callback,string params,bytes32 salt)"
)


@internal
@view
def domain_separator() -> bytes32:
    # Recomputed (cheaply) rather than cached so a chain fork gets its own domain.
    return keccak256(abi_encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chain.id, self))


@internal
@pure
def typed_digest(domain: bytes32, struct_hash: bytes32) -> bytes32:
    return keccak256(concat(x"1901", domain, struct_hash))


@internal
@pure
def hash_app(o: AppOrder) -> bytes32:
    return keccak256(
        abi_encode(
            APP_TYPEHASH, o.app, o.appprice, o.volume, o.tag, o.datasetrestrict,
            o.workerpoolrestrict, o.requesterrestrict, o.salt,
        )
    )


@internal
@pure
def hash_dataset(o: DatasetOrder) -> bytes32:
    return keccak256(
        abi_encode(
            DATASET_TYPEHASH, o.dataset, o.datasetprice, o.volume, o.tag, o.apprestrict,
            o.workerpoolrestrict, o.requesterrestrict, o.salt,
        )
    )


@internal
@pure
def hash_workerpool(o: WorkerpoolOrder) -> bytes32:
    return keccak256(
        abi_encode(
            WORKERPOOL_TYPEHASH, o.workerpool, o.workerpoolprice, o.volume, o.tag, o.category,
            o.trust, o.apprestrict, o.datasetrestrict, o.requesterrestrict, o.salt,
        )
    )


@internal
@pure
def hash_request(o: RequestOrder) -> bytes32:
    return keccak256(
        abi_encode(
            REQUEST_TYPEHASH, o.app, o.appmaxprice, o.dataset, o.datasetmaxprice, o.workerpool,
            o.workerpoolmaxprice, o.requester, o.volume, o.tag, o.category, o.trust,
            o.beneficiary, o.callback, keccak256(o.params), o.salt,
        )
    )
