"""``python -m sealrun.cli`` runs the command line."""

from sealrun.cli.app import main

main()
