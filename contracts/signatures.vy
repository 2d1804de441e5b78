# pragma version 0.4.3
"""
@title signatures
@notice Recovers the signer of an ECDSA signature over a 32-byte digest. Accepts 65-byte
        (r, s, v) and 64-byte EIP-2098 compact (r, yParity|s) signatures; rejects high-s
        (malleable) signatures and any other length by returning the zero address, which
        never equals an expected signer.
"""

# secp256k1 order n / 2: signatures with s above it are the malleable twin of a valid one.
HALF_N: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168
LOW_255_BITS: constant(uint256) = 2**255 - 1


@internal
@pure
def recover(digest: bytes32, sig: Bytes[65]) -> address:
    r: uint256 = 0
    s: uint256 = 0
    v: uint256 = 0
    if len(sig) == 65:
        r = convert(extract32(sig, 0), uint256)
        s = convert(extract32(sig, 32), uint256)
        v = convert(slice(sig, 64, 1), uint256)
        # Some signers (hardware wallets, eth_sign of old) return v in {0, 1}.
        if v < 27:
            v += 27
    elif len(sig) == 64:
        r = convert(extract32(sig, 0), uint256)
        vs: uint256 = convert(extract32(sig, 32), uint256)
        s = vs & LOW_255_BITS
        v = 27 + (vs >> 255)
    else:
        return empty(address)
    if s > HALF_N or (v != 27 and v != 28):
        return empty(address)
    return ecrecover(digest, v, r, s)


@internal
@pure
def personal_digest(digest: bytes32) -> bytes32:
    """EIP-191 version 0x45 (personal_sign) over a 32-byte message."""
    return keccak256(concat(b"\x19Ethereum Signed Message:\n32", digest))
