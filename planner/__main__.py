"""``python -m planner`` runs the ``mailplan`` command."""

from planner.cli import main

main()
