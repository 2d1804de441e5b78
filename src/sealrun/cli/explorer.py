"""``sealrun explorer``: serve the read-only explorer over the selected chain and its services.

The chain is the selected profile's (the running devnet's by default); the scheduler and the
market are ``$SEALRUN_SCHEDULER_URL``/``$SEALRUN_MARKET_URL`` or the devnet's, each optional
(their parts of the pages are then left out, with a note). The work is
:mod:`sealrun.services.explorer`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sealrun.cli.output import Output
from sealrun.cli.session import CHAIN_OPTION, CONFIG_OPTION, Session

__all__ = ["explorer"]


def explorer(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8710, "--port", min=1, max=65535, help="Port to listen on."),
    chain: str | None = CHAIN_OPTION,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Serve the read-only explorer: deals, tasks and their timelines, apps, datasets."""
    import uvicorn

    from sealrun.services.explorer.app import create_app
    from sealrun.services.explorer.parts import connect_data
    from sealrun.services.explorer.settings import ExplorerSettings

    out = Output(False)
    session = Session.load(config, chain, None, None)
    profile = session.profile
    settings = ExplorerSettings(
        rpc_url=profile.rpc_url,
        hub=session.deployed_hub(),
        start_block=profile.deploy_block,
        scheduler_url=session.optional_service_url("scheduler"),
        market_url=session.optional_service_url("market"),
        host=host,
        port=port,
    )
    app = create_app(connect_data(settings), scheduler_url=settings.scheduler_url)
    out.info(f"explorer on http://{host}:{port}/ (Ctrl-C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
