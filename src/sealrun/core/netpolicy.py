"""Where the enclave may fetch a task's inputs from: the public internet only (pure rules).

Input file URLs are chosen by the requester and the dataset URL by the dataset owner: both
are hostile input to the worker host (SYSTEM.md §6). A fetch that reached the host's own
files or services would hand them to an app that seals them to its requester. The rules:

- **Scheme**: ``https``; plain ``http`` only for an origin listed in
  :attr:`FetchPolicy.allowed_http_origins` (such as the devnet's blob store); ``file``,
  ``data``, ``ftp`` and every other scheme are refused (:func:`check_url_target`).
- **Address**: the address actually connected to, after DNS resolution, must be public
  (:func:`check_public_address`): never unspecified, loopback, link-local, private
  (RFC 1918, ULA ``fc00::/7``, IPv6 site-local), carrier-grade NAT (``100.64.0.0/10``),
  multicast, reserved or otherwise not globally routable, never a cloud metadata address,
  and never an IPv6 form that embeds such an IPv4 address (mapped, compatible, NAT64,
  6to4, Teredo). Checking the resolved address, not the URL's spelling, is what refuses
  ``http://2130706433/``, ``http://0x7f.1/`` and a name that resolves to ``127.0.0.1``.
- An allowed ``http`` origin is exempt from the address rule (the devnet's store listens on
  loopback), and only exactly that origin: same scheme, host spelling and port.

Sizes live in the same policy: a per-input limit, a per-task total (the app manifest may ask
for less, never more) and a free-disk margin. Refusals raise
:class:`~sealrun.errors.EnclaveError` with ``INPUT_URL_REFUSED`` (scheme or origin) or
``INPUT_ADDRESS_REFUSED`` (address); a bad policy raises
:class:`~sealrun.errors.ConfigError` ``FETCH_POLICY_INVALID``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlsplit

from sealrun.errors import ConfigError, EnclaveError

__all__ = [
    "METADATA_ADDRESSES",
    "FetchPolicy",
    "Route",
    "check_public_address",
    "check_url_target",
    "http_origin",
    "parse_http_origin",
]

_GIB = 1 << 30
_MIB = 1 << 20
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Cloud instance metadata services. Most are link-local or private and refused anyway; some
# (Oracle's 192.0.0.192, Azure's wire server 168.63.129.16) count as global, so they are named.
METADATA_ADDRESSES: frozenset[IPv4Address | IPv6Address] = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.169.253",
        "168.63.129.16",
        "100.100.100.200",
        "192.0.0.192",
        "fd00:ec2::254",
    )
)
_CGNAT = IPv4Network("100.64.0.0/10")
_IPV4_MAPPED = IPv6Network("::ffff:0:0/96")
_IPV4_COMPATIBLE = IPv6Network("::/96")
_NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))
_SITE_LOCAL = IPv6Network("fec0::/10")


class Route(enum.Enum):
    """How a URL that passed :func:`check_url_target` may be reached."""

    #: An origin the worker lists for plain http: connect without the address rule.
    ALLOWED_ORIGIN = "allowed-origin"
    #: Anything else: every address connected to must pass :func:`check_public_address`.
    PUBLIC = "public"


def _policy_invalid(message: str) -> ConfigError:
    return ConfigError(message, code="FETCH_POLICY_INVALID")


def http_origin(scheme: str, host: str, port: int | None) -> str:
    """Return the canonical origin ``scheme://host:port`` (lower case, explicit port).

    Args:
        scheme: ``http`` or ``https`` (any case).
        host: a host name or an IP literal, IPv6 with or without brackets.
        port: the port, or None for the scheme's default.

    Returns:
        For example ``http://127.0.0.1:8080`` or ``https://[::1]:443``.
    """
    scheme = scheme.lower()
    bare = host.lower().strip("[]").rstrip(".")
    shown = f"[{bare}]" if ":" in bare else bare
    return f"{scheme}://{shown}:{port if port is not None else _DEFAULT_PORTS.get(scheme, 0)}"


def parse_http_origin(text: str) -> str:
    """Validate a configured plain-http origin and return its canonical form.

    Args:
        text: ``http://host[:port]`` with no path (a trailing ``/`` is tolerated), no user
            info, no query.

    Returns:
        The :func:`http_origin` form.

    Raises:
        ConfigError: ``FETCH_POLICY_INVALID`` for anything else.
    """
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise _policy_invalid(f"allowed http origin {text!r} is not a URL: {error}") from error
    if parts.scheme.lower() != "http":
        raise _policy_invalid(
            f"allowed http origin {text!r} must start with http:// (https needs no listing)"
        )
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise _policy_invalid(f"allowed http origin {text!r} must name a host and no user")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _policy_invalid(f"allowed http origin {text!r} must be scheme://host:port only")
    return http_origin("http", parts.hostname, port)


@dataclass(frozen=True)
class FetchPolicy:
    """Where inputs may come from and how much of them a task may fetch (worker configuration).

    Attributes:
        allowed_http_origins: origins (``http://host:port``) where plain http is allowed and
            the address rule does not apply, such as the devnet's store; empty by default.
            Normalised on construction (:func:`parse_http_origin`).
        max_input_bytes: the largest single input (the dataset ciphertext or one input file).
        max_total_bytes: the most a task may fetch in all; the app manifest's
            ``input_size_mb`` may ask for less, never for more (:meth:`task_budget`).
        free_space_margin_bytes: a download starts only when the disk holding the inputs has
            at least what remains of the task's budget plus this much free.
        max_redirects: redirects followed per input, each hop checked by the same rules.
        max_fetch_seconds: wall-clock limit for all of a task's downloads together, so a
            server that trickles bytes cannot hold the worker.
        transient_retries: how many times one download is tried again, in place, after a
            transient failure (unreachable, timeout, 5xx, 408, 429) before the task fails
            with ``INPUT_UNAVAILABLE`` (an infrastructure failure the pool retries); 0 to 10.
        retry_delay_seconds: the first in-place wait (doubled each time; never past
            ``max_fetch_seconds``); in ``(0, 60]``.

    Raises:
        ConfigError: ``FETCH_POLICY_INVALID`` for a bad origin or a non-positive limit.
    """

    allowed_http_origins: frozenset[str] = field(default_factory=frozenset)
    max_input_bytes: int = _GIB
    max_total_bytes: int = _GIB
    free_space_margin_bytes: int = 256 * _MIB
    max_redirects: int = 3
    max_fetch_seconds: float = 900.0
    transient_retries: int = 5
    retry_delay_seconds: float = 1.0

    def __post_init__(self) -> None:
        given: object = self.allowed_http_origins
        if isinstance(given, str):
            raise _policy_invalid("allowed_http_origins must be a set of origins, not one string")
        origins = frozenset(parse_http_origin(origin) for origin in self.allowed_http_origins)
        object.__setattr__(self, "allowed_http_origins", origins)
        for name in ("max_input_bytes", "max_total_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _policy_invalid(f"{name} must be a positive integer")
        margin = self.free_space_margin_bytes
        if isinstance(margin, bool) or not isinstance(margin, int) or margin < 0:
            raise _policy_invalid("free_space_margin_bytes must be a non-negative integer")
        redirects = self.max_redirects
        if isinstance(redirects, bool) or not isinstance(redirects, int) or not 0 <= redirects <= 20:
            raise _policy_invalid("max_redirects must be an integer in [0, 20]")
        if not self.max_fetch_seconds > 0:
            raise _policy_invalid("max_fetch_seconds must be positive")
        retries = self.transient_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            raise _policy_invalid("transient_retries must be an integer in [0, 10]")
        if not 0 < self.retry_delay_seconds <= 60:  # also refuses NaN
            raise _policy_invalid("retry_delay_seconds must be in (0, 60]")

    def task_budget(self, requested_bytes: int | None) -> int:
        """Return the bytes a task may fetch: what its manifest asks for, capped by the worker.

        Args:
            requested_bytes: the manifest's ``input_size_mb`` in bytes, or None (not asked).
        """
        if requested_bytes is None:
            return self.max_total_bytes
        return min(requested_bytes, self.max_total_bytes)


def check_url_target(scheme: str, host: str, port: int | None, policy: FetchPolicy) -> Route:
    """Check a URL's scheme and origin against ``policy`` (before any connection).

    Args:
        scheme: the URL's scheme.
        host: the URL's host (empty for ``file:``/``data:`` URLs).
        port: the URL's explicit port, or None.
        policy: the worker's fetch policy.

    Returns:
        :attr:`Route.ALLOWED_ORIGIN` for a listed http origin, :attr:`Route.PUBLIC` for any
        other acceptable URL (whose addresses must then pass :func:`check_public_address`).

    Raises:
        EnclaveError: ``INPUT_URL_REFUSED`` naming the rule.
    """
    lowered = scheme.lower()
    if lowered not in _DEFAULT_PORTS:
        raise EnclaveError(
            f"the {lowered or 'missing'!r} scheme is refused: inputs come from the public internet "
            "over https (http only from origins the worker lists)",
            code="INPUT_URL_REFUSED",
        )
    if not host:
        raise EnclaveError("the URL names no host", code="INPUT_URL_REFUSED")
    origin = http_origin(lowered, host, port)
    if lowered == "http":
        if origin in policy.allowed_http_origins:
            return Route.ALLOWED_ORIGIN
        raise EnclaveError(
            f"plain http to {origin} is refused: inputs come over https "
            "(http only from origins the worker lists)",
            code="INPUT_URL_REFUSED",
        )
    return Route.PUBLIC


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    if address in _IPV4_MAPPED:
        return address.ipv4_mapped
    if any(address in network for network in _NAT64) or (
        address in _IPV4_COMPATIBLE and int(address) > 1  # :: and ::1 are IPv6's own
    ):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def _is_cgnat(address: IPv4Address | IPv6Address) -> bool:
    return isinstance(address, IPv4Address) and address in _CGNAT


def _is_site_local(address: IPv4Address | IPv6Address) -> bool:
    return isinstance(address, IPv6Address) and address in _SITE_LOCAL


# In order, so the most telling name comes first; the last line catches every other
# special-purpose range (benchmarking, documentation, 0.0.0.0/8, ...).
_REFUSED: tuple[tuple[Callable[[IPv4Address | IPv6Address], bool], str], ...] = (
    (lambda a: a.is_unspecified, "unspecified"),
    (lambda a: a.is_loopback, "loopback"),
    (lambda a: a in METADATA_ADDRESSES, "a cloud metadata address"),
    (lambda a: a.is_link_local, "link-local"),
    (lambda a: a.is_multicast, "multicast"),
    (_is_cgnat, "carrier-grade NAT (100.64.0.0/10)"),
    (_is_site_local, "site-local"),
    (lambda a: a.is_reserved, "reserved"),
    (lambda a: a.is_private, "private"),
    (lambda a: not a.is_global, "not globally routable"),
)


def _refusal(address: IPv4Address | IPv6Address) -> str | None:
    return next((name for test, name in _REFUSED if test(address)), None)


def check_public_address(address: str) -> IPv4Address | IPv6Address:
    """Return ``address`` parsed if it is a public internet address; raise otherwise.

    Args:
        address: an IP address as text (as the resolver or the socket reports it; an IPv6
            zone suffix ``%eth0`` is accepted and judged by its address).

    Returns:
        The parsed address.

    Raises:
        EnclaveError: ``INPUT_ADDRESS_REFUSED`` naming the address and why.
    """
    try:
        parsed = ip_address(address)
    except ValueError as error:
        raise EnclaveError(f"{address!r} is not an IP address", code="INPUT_ADDRESS_REFUSED") from error
    if isinstance(parsed, IPv6Address):
        inner = _embedded_ipv4(parsed)
        if inner is not None:
            why = _refusal(inner)
            if why is not None:
                raise EnclaveError(
                    f"address {parsed} embeds {inner}, which is {why}: "
                    "inputs come from the public internet only",
                    code="INPUT_ADDRESS_REFUSED",
                )
            if parsed in _IPV4_MAPPED or parsed in _IPV4_COMPATIBLE or any(parsed in n for n in _NAT64):
                # Another spelling of a public IPv4 address (NAT64 is how IPv6-only hosts
                # reach the IPv4 internet); Python calls these ranges reserved or private.
                return parsed
    why = _refusal(parsed)
    if why is not None:
        raise EnclaveError(
            f"address {parsed} is {why}: inputs come from the public internet only",
            code="INPUT_ADDRESS_REFUSED",
        )
    return parsed
