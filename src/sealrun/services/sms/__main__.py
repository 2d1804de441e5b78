"""``python -m sealrun.services.sms [serve|migrate|rotate-master-key]``.

``serve`` (the default) migrates the database and starts the API with uvicorn on the
configured host and port; ``migrate`` only migrates; ``rotate-master-key`` re-seals every
stored secret under the current master key (see ``docs/sms.md``). Settings come from
``SEALRUN_SMS_*``; a refused configuration prints ``error [CODE]: message`` and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from sealrun.errors import SealrunError


def main(argv: list[str] | None = None) -> int:
    """Run one SMS command; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m sealrun.services.sms")
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "migrate", "rotate-master-key"]
    )
    args = parser.parse_args(argv)
    try:
        from sealrun.adapters.secretfiles import secrets_dir
        from sealrun.services.sms.app import create_app, migrate, rotate_master_key
        from sealrun.services.sms.settings import SmsSettings

        settings = SmsSettings(_secrets_dir=secrets_dir("SEALRUN_SMS_", os.environ))  # type: ignore[call-arg]
        if args.command == "migrate":
            settings.check()
            migrate(settings)
            print(json.dumps({"migrated": True}))
            return 0
        if args.command == "rotate-master-key":
            rewritten = rotate_master_key(settings)
            print(json.dumps({"rewritten": rewritten, "key_id": settings.master_key_id}))
            return 0
        import uvicorn

        from sealrun.adapters.logs import configure_logging
        from sealrun.adapters.tls import server_options

        configure_logging("sms")
        app = create_app(settings)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            ws="none",
            log_config=None,
            **server_options(settings),
        )
        return 0
    except SealrunError as error:
        print(f"error [{error.code}]: {error.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
