"""The ``sealrun app`` group every module of :mod:`sealrun.cli.app` registers its commands on."""

from __future__ import annotations

import typer

__all__ = ["BUNDLE_ARGUMENT", "app_app"]

app_app = typer.Typer(name="app", help="Apps: measured bundles registered on chain.")

BUNDLE_ARGUMENT = typer.Argument(..., help="The app bundle folder (with sealrun-app.toml).")
