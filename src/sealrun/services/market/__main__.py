"""``python -m sealrun.services.market``: run the order book as an HTTP server.

Settings come from ``SEALRUN_MARKET_*`` (see :class:`MarketSettings`); a refused
configuration or an unreachable chain prints ``error [CODE]: message`` and exits 1.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Connect to the chain, migrate, and serve until interrupted."""
    from sealrun.errors import SealrunError

    try:
        import uvicorn

        from sealrun.adapters.logs import configure_logging
        from sealrun.adapters.tls import server_options
        from sealrun.services.market.app import create_app
        from sealrun.services.market.chainview import connect_chain
        from sealrun.services.market.settings import MarketSettings

        configure_logging("market")
        settings = MarketSettings()  # type: ignore[call-arg]  # fields come from the environment
        chain = connect_chain(settings)
        app = create_app(
            settings, chain_id=chain.chain_id, reader=chain.reader, ledger=chain.ledger, events=chain.events
        )
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            log_config=None,
            **server_options(settings),
        )
        return 0
    except SealrunError as error:
        print(f"error [{error.code}]: {error.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
