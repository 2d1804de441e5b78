"""``python -m sealrun.services.store``: run the blob store as an HTTP server.

A refused configuration or an unreachable chain prints ``error [CODE]: message`` and exits 1.
"""

from __future__ import annotations

import logging
import os
import sys


def main() -> int:
    """Read ``SEALRUN_STORE_*`` settings, connect to the chain if configured, serve until interrupted."""
    from sealrun.errors import SealrunError

    try:
        import uvicorn

        from sealrun.adapters.logs import configure_logging
        from sealrun.adapters.secretfiles import secrets_dir
        from sealrun.adapters.tls import server_options
        from sealrun.services.store.app import create_app
        from sealrun.services.store.settings import StoreSettings

        configure_logging("store")
        # The upload token key comes from the 0600 secrets folder (SEALRUN_STORE_SECRETS_DIR).
        settings = StoreSettings(_secrets_dir=secrets_dir("SEALRUN_STORE_", os.environ))  # type: ignore[call-arg]
        chain = None
        if settings.rpc_url is not None:
            from sealrun.services.store.chainview import connect_chain

            chain = connect_chain(settings)
        elif settings.chain_id is not None:
            logging.getLogger("sealrun.store").warning(
                "SEALRUN_STORE_RPC_URL is unset: signed dataset uploads are refused (asset owners unknown)"
            )
        uvicorn.run(
            create_app(settings, chain=chain),
            host=settings.host,
            port=settings.port,
            log_level="info",
            log_config=None,  # uvicorn's lines go through configure_logging's handler
            **server_options(settings),
        )
        return 0
    except SealrunError as error:
        print(f"error [{error.code}]: {error.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
