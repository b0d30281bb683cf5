"""``python -m okx_journal`` runs the command line."""

from okx_journal.cli import main

main()
