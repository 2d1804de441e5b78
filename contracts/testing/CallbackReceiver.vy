# pragma version 0.4.3
"""
@title result callback that records what it received
@notice A test contract (tests/contracts/test_callbacks.py, benchmarks/gas.py): the hub calls
        receiveResult(taskid, abi_encode(digest)) at settlement; this stores the call. A real
        consumer would also check that msg.sender is the hub it trusts.
"""

calls: public(uint256)
caller: public(address)
taskid: public(bytes32)
results: public(Bytes[32])


@external
def receiveResult(taskid: bytes32, results: Bytes[32]):
    self.calls += 1
    self.caller = msg.sender
    self.taskid = taskid
    self.results = results
