"""The client kit: one base client on httpx and a thin typed client per service.

- :mod:`.base`: :class:`ServiceClient` (timeouts, retries of what is safe to retry,
  problem+json → the service's code, answers validated against :mod:`sealrun.api` models);
- :mod:`.problems`: :func:`raise_for_problem`, the client half of the problem+json contract;
- :mod:`.signing`: :class:`SignedRequestAuth`, the one request-signing scheme as an
  ``httpx.Auth``;
- :mod:`.store`, :mod:`.sms`, :mod:`.market`, :mod:`.scheduler`: the service clients.

Nothing here loads FastAPI or Starlette (a test and an import-linter contract keep it so):
the enclave imports the SMS and store clients and must start small.
"""

from sealrun.adapters.http.base import ServiceClient, parse_service_urls
from sealrun.adapters.http.problems import raise_for_problem

__all__ = ["ServiceClient", "parse_service_urls", "raise_for_problem"]
