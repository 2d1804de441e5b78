"""The ``sealrun`` command line (Typer); Rich renders in one place: :mod:`sealrun.cli.output`."""
