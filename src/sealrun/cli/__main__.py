"""``python -m sealrun.cli`` runs the command line."""

from sealrun.cli.main import main

main()
