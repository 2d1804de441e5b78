"""Hypothesis strategies for orders."""

from __future__ import annotations

from hypothesis import strategies as st

from sealrun.core.orders import AppOrder, DatasetOrder, Order, RequestOrder, WorkerpoolOrder

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
uints = st.one_of(st.integers(0, 2**64), st.integers(0, 2**256 - 1))
bytes32 = st.binary(min_size=32, max_size=32)
params = st.text(max_size=200)

app_orders = st.builds(
    AppOrder,
    app=addresses,
    appprice=uints,
    volume=uints,
    tag=bytes32,
    datasetrestrict=addresses,
    workerpoolrestrict=addresses,
    requesterrestrict=addresses,
    salt=bytes32,
)
dataset_orders = st.builds(
    DatasetOrder,
    dataset=addresses,
    datasetprice=uints,
    volume=uints,
    tag=bytes32,
    apprestrict=addresses,
    workerpoolrestrict=addresses,
    requesterrestrict=addresses,
    salt=bytes32,
)
workerpool_orders = st.builds(
    WorkerpoolOrder,
    workerpool=addresses,
    workerpoolprice=uints,
    volume=uints,
    tag=bytes32,
    category=uints,
    trust=uints,
    apprestrict=addresses,
    datasetrestrict=addresses,
    requesterrestrict=addresses,
    salt=bytes32,
)
request_orders = st.builds(
    RequestOrder,
    app=addresses,
    appmaxprice=uints,
    dataset=addresses,
    datasetmaxprice=uints,
    workerpool=addresses,
    workerpoolmaxprice=uints,
    requester=addresses,
    volume=uints,
    tag=bytes32,
    category=uints,
    trust=uints,
    beneficiary=addresses,
    callback=addresses,
    params=params,
    salt=bytes32,
)
orders: st.SearchStrategy[Order] = st.one_of(app_orders, dataset_orders, workerpool_orders, request_orders)
