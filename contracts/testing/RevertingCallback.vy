# pragma version 0.4.3
"""@notice A test result callback that always reverts: settlement must go on without it."""


@external
def receiveResult(taskid: bytes32, results: Bytes[32]):
    raise "callback refuses"
