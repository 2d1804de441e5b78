# pragma version 0.4.3
"""
@title accounts
@notice The hub's escrow: every address has a free and a locked balance of the escrow
        token, packed in ONE storage slot (free in the low 128 bits, locked in the high 128
        bits) so a lock, an unlock or a payment costs one SSTORE instead of two.
@dev    Neither half can overflow: deposit() refuses to let the hub hold 2**128 tokens or
        more, and every balance is backed by tokens the hub holds.
"""

from ethereum.ercs import IERC20

event Deposit:
    account: indexed(address)
    payer: indexed(address)
    amount: uint256

event Withdraw:
    account: indexed(address)
    amount: uint256

LOCKED_UNIT: constant(uint256) = 2**128
FREE_MASK: constant(uint256) = 2**128 - 1

token: public(IERC20)
packed: HashMap[address, uint256]


@deploy
def __init__(token: IERC20):
    self.token = token


@external
@nonreentrant
def deposit(amount: uint256):
    """Move `amount` tokens (approved beforehand) from the caller into the caller's free balance."""
    self._deposit(msg.sender, msg.sender, amount)


@external
@nonreentrant
def depositFor(amount: uint256, target: address):
    """Move `amount` tokens from the caller into `target`'s free balance."""
    assert target != empty(address), "zero-address"
    self._deposit(msg.sender, target, amount)


@external
@nonreentrant
def withdraw(amount: uint256):
    """Send `amount` tokens of the caller's free balance back to the caller."""
    assert amount > 0, "amount-zero"
    word: uint256 = self.packed[msg.sender]
    assert word & FREE_MASK >= amount, "balance-insufficient"
    self.packed[msg.sender] = word - amount
    assert extcall self.token.transfer(msg.sender, amount, default_return_value=True), "transfer-failed"
    log Withdraw(account=msg.sender, amount=amount)


@external
@view
def balanceOf(account: address) -> uint256:
    """The free (withdrawable, spendable) balance of `account`."""
    return self.packed[account] & FREE_MASK


@external
@view
def lockedOf(account: address) -> uint256:
    """The balance of `account` locked in running deals (requester price or pool stake)."""
    return self.packed[account] >> 128


@internal
def _deposit(payer: address, target: address, amount: uint256):
    assert amount > 0, "amount-zero"
    assert extcall self.token.transferFrom(payer, self, amount, default_return_value=True), "transfer-failed"
    # Keeps every packed half below 2**128 (see @dev above).
    assert staticcall self.token.balanceOf(self) < LOCKED_UNIT, "deposit-overflow"
    self.packed[target] += amount
    log Deposit(account=target, payer=payer, amount=amount)


@internal
@view
def free_of(account: address) -> uint256:
    return self.packed[account] & FREE_MASK


@internal
def lock(account: address, amount: uint256):
    """Move `amount` from free to locked; the caller has checked the free balance."""
    if amount == 0:
        return
    word: uint256 = self.packed[account]
    assert word & FREE_MASK >= amount
    self.packed[account] = word - amount + amount * LOCKED_UNIT


@internal
def settle(account: address, credit: uint256, unlock: uint256):
    """Remove `unlock` from the locked half and add `credit` to the free half, in one write."""
    if credit == 0 and unlock == 0:
        return
    word: uint256 = self.packed[account]
    assert word >> 128 >= unlock
    self.packed[account] = word - unlock * LOCKED_UNIT + credit
