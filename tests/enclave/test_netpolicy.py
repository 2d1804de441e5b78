"""The pure rules of where inputs may come from (``sealrun.core.netpolicy``)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.core.netpolicy import (
    FetchPolicy,
    Route,
    check_public_address,
    check_url_target,
    http_origin,
    parse_http_origin,
)
from sealrun.errors import ConfigError, EnclaveError


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("168.63.129.16", "metadata"),
        ("100.100.100.200", "metadata"),
        ("192.0.0.192", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fec0::1", "site-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("0.1.2.3", "private"),
        ("198.18.0.1", "private"),
        ("192.0.2.1", "private"),
        ("2001:db8::1", "private"),
        # IPv6 spellings of refused IPv4 addresses.
        ("::ffff:127.0.0.1", "embeds 127.0.0.1, which is loopback"),
        ("::ffff:7f00:1", "embeds 127.0.0.1, which is loopback"),
        ("::ffff:10.0.0.1", "embeds 10.0.0.1, which is private"),
        ("::ffff:169.254.169.254", "embeds 169.254.169.254, which is a cloud metadata address"),
        ("::127.0.0.1", "embeds 127.0.0.1, which is loopback"),
        ("64:ff9b::7f00:1", "embeds 127.0.0.1, which is loopback"),
        ("64:ff9b::a00:1", "embeds 10.0.0.1, which is private"),
        ("2002:7f00:1::1", "embeds 127.0.0.1, which is loopback"),
        ("2002:c0a8:101::1", "embeds 192.168.1.1, which is private"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "embeds 127.0.0.1, which is loopback"),
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    with pytest.raises(EnclaveError) as caught:
        check_public_address(address)
    assert caught.value.code == "INPUT_ADDRESS_REFUSED"
    assert why in caught.value.message


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_pass(address: str) -> None:
    assert check_public_address(address) is not None


def test_garbage_is_not_an_address() -> None:
    with pytest.raises(EnclaveError) as caught:
        check_public_address("localhost")
    assert caught.value.code == "INPUT_ADDRESS_REFUSED"


_REFUSED_V4 = st.one_of(
    st.integers(0x7F000000, 0x7FFFFFFF),  # 127/8
    st.integers(0x0A000000, 0x0AFFFFFF),  # 10/8
    st.integers(0xAC100000, 0xAC1FFFFF),  # 172.16/12
    st.integers(0xC0A80000, 0xC0A8FFFF),  # 192.168/16
    st.integers(0x64400000, 0x647FFFFF),  # 100.64/10
    st.integers(0xA9FE0000, 0xA9FEFFFF),  # 169.254/16
    st.integers(0xE0000000, 0xFFFFFFFF),  # multicast, reserved, broadcast
    st.integers(0x00000000, 0x00FFFFFF),  # 0/8
).map(IPv4Address)


@given(_REFUSED_V4, st.sampled_from(["{}", "::ffff:{}", "::{}", "64:ff9b::{}"]))
def test_every_refused_ipv4_range_and_its_ipv6_forms_are_refused(address: IPv4Address, form: str) -> None:
    text = form.format(address)
    if form == "::{}" and int(address) <= 1:
        text = str(IPv6Address(int(address)))  # :: and ::1 are IPv6's own (still refused)
    with pytest.raises(EnclaveError) as caught:
        check_public_address(text)
    assert caught.value.code == "INPUT_ADDRESS_REFUSED"


@pytest.mark.parametrize(
    ("scheme", "host"),
    [("file", ""), ("data", ""), ("ftp", "example.com"), ("gopher", "example.com"), ("ws", "example.com"),
     ("wss", "example.com"), ("javascript", ""), ("", ""), ("jar", "x"), ("https", "")],
)  # fmt: skip
def test_schemes_other_than_https_are_refused(scheme: str, host: str) -> None:
    with pytest.raises(EnclaveError) as caught:
        check_url_target(scheme, host, None, FetchPolicy())
    assert caught.value.code == "INPUT_URL_REFUSED"


def test_plain_http_only_for_exactly_the_listed_origins() -> None:
    policy = FetchPolicy(allowed_http_origins=frozenset({"http://127.0.0.1:8080"}))
    assert check_url_target("http", "127.0.0.1", 8080, policy) is Route.ALLOWED_ORIGIN
    assert check_url_target("HTTP", "127.0.0.1", 8080, policy) is Route.ALLOWED_ORIGIN
    # Same host and port over https: a public route, so the address rule applies.
    assert check_url_target("https", "127.0.0.1", 8080, policy) is Route.PUBLIC
    for host, port in (("127.0.0.1", 8081), ("127.0.0.1", None), ("localhost", 8080), ("2130706433", 8080)):
        with pytest.raises(EnclaveError) as caught:
            check_url_target("http", host, port, policy)
        assert caught.value.code == "INPUT_URL_REFUSED"
        assert "plain http" in caught.value.message
    with pytest.raises(EnclaveError):
        check_url_target("http", "example.com", None, FetchPolicy())


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("HTTP://Store.Local:8080/", "http://store.local:8080"),
        ("http://store", "http://store:80"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_configured_origins_are_normalised(text: str, origin: str) -> None:
    assert parse_http_origin(text) == origin
    assert FetchPolicy(allowed_http_origins=frozenset({text})).allowed_http_origins == {origin}


@pytest.mark.parametrize(
    "text",
    ["https://store:443", "ftp://store", "http://store/blobs", "http://u@store:80", "http://store:99999",
     "http://", "store:8080", "http://store?x=1"],
)  # fmt: skip
def test_bad_configured_origins_are_refused(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_http_origin(text)
    assert caught.value.code == "FETCH_POLICY_INVALID"


@pytest.mark.parametrize(
    "changes",
    [
        {"max_input_bytes": 0},
        {"max_total_bytes": -1},
        {"max_total_bytes": True},
        {"free_space_margin_bytes": -1},
        {"max_redirects": 21},
        {"max_fetch_seconds": 0},
        {"allowed_http_origins": "http://127.0.0.1:80"},
    ],
)
def test_bad_policies_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as caught:
        FetchPolicy(**changes)  # type: ignore[arg-type]
    assert caught.value.code == "FETCH_POLICY_INVALID"


def test_the_manifest_asks_and_the_worker_caps() -> None:
    policy = FetchPolicy(max_total_bytes=1000)
    assert policy.task_budget(None) == 1000
    assert policy.task_budget(10) == 10
    assert policy.task_budget(10**12) == 1000
    assert FetchPolicy().max_total_bytes == 1 << 30


def test_origin_spelling() -> None:
    assert http_origin("HTTPS", "Example.COM.", None) == "https://example.com:443"
    assert http_origin("http", "::1", 80) == "http://[::1]:80"
