# pragma version 0.4.3
"""@notice A test result callback that burns all the gas it is given (new storage slots
        until it runs out): settlement must go on without it."""

sink: HashMap[uint256, uint256]


@external
def receiveResult(taskid: bytes32, results: Bytes[32]):
    for i: uint256 in range(1000000):
        self.sink[i] = i + 1
