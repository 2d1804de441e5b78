"""Orders: iExec PoCo v5 order models, EIP-712 hashing and signing, matching rules.

- :mod:`.models`        AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder
- :mod:`.typed_data`    the EIP-712 domain, payload (eth_signTypedData_v4) and digests
- :mod:`.signing`       signing (65-byte and EIP-2098 64-byte), signer recovery
- :mod:`.tags`          the tag bit field (TEE, SGX, TDX, SEV-SNP, Nitro, GPU)
- :mod:`.grants`        dataset grants: ids, the model, the dataset order that references one
- :mod:`.matching`      the hub's matchOrders rules, raising the contract's own codes
- :mod:`.reasons`       every contract revert reason with its code and sentence
- :mod:`.codec`         the one order codec (model ⇄ EIP-712 struct ⇄ JSON) and table of kinds
- :mod:`.numbers`       ASCII-digit parsing and the bounds of the chain and the SQL columns

Error codes (:class:`~sealrun.errors.OrderError`): ``ORDER_FIELD_INVALID``,
``ORDER_JSON_INVALID``, ``ORDER_DOMAIN_INVALID``, ``ORDER_KEY_INVALID``,
``ORDER_NOT_SIGNED``, ``ORDER_SIGNATURE_INVALID``, and the ``ORDER_*`` matching codes of
:data:`.reasons.REVERT_REASONS`.
"""

from sealrun.core.orders.codec import (
    ORDER_KINDS,
    ORDER_TYPES,
    OrderKind,
    dumps_order,
    kind_of,
    loads_order,
    order_from_json,
    order_kind,
    order_to_json,
)
from sealrun.core.orders.grants import GRANT_MARK, Grant, grant_id, grant_order, is_grant_id
from sealrun.core.orders.matching import CLOSED, WORKERPOOL_STAKE_RATIO, MatchContext, MatchPlan, check_match
from sealrun.core.orders.models import (
    MAX_PARAMS_BYTES,
    ZERO_ADDRESS,
    AppOrder,
    DatasetOrder,
    Order,
    RequestOrder,
    WorkerpoolOrder,
)
from sealrun.core.orders.reasons import REVERT_REASONS, RevertReason, reason_for_code
from sealrun.core.orders.signing import (
    SECP256K1_HALF_N,
    from_compact,
    recover_order_signer,
    sign_order,
    signable_digest,
    signable_order,
    to_compact,
)
from sealrun.core.orders.tags import TEE_TECHNOLOGY_BITS, TagBit, make_tag, missing_bits, tag_bits, tag_value
from sealrun.core.orders.typed_data import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    Domain,
    order_hash,
    struct_hash,
    type_string,
    typed_data,
)

__all__ = [
    "CLOSED",
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "GRANT_MARK",
    "MAX_PARAMS_BYTES",
    "ORDER_KINDS",
    "ORDER_TYPES",
    "REVERT_REASONS",
    "SECP256K1_HALF_N",
    "TEE_TECHNOLOGY_BITS",
    "WORKERPOOL_STAKE_RATIO",
    "ZERO_ADDRESS",
    "AppOrder",
    "DatasetOrder",
    "Domain",
    "Grant",
    "MatchContext",
    "MatchPlan",
    "Order",
    "OrderKind",
    "RequestOrder",
    "RevertReason",
    "TagBit",
    "WorkerpoolOrder",
    "check_match",
    "dumps_order",
    "from_compact",
    "grant_id",
    "grant_order",
    "is_grant_id",
    "kind_of",
    "loads_order",
    "make_tag",
    "missing_bits",
    "order_from_json",
    "order_hash",
    "order_kind",
    "order_to_json",
    "reason_for_code",
    "recover_order_signer",
    "sign_order",
    "signable_digest",
    "signable_order",
    "struct_hash",
    "tag_bits",
    "tag_value",
    "to_compact",
    "type_string",
    "typed_data",
]
