"""``python -m planner`` runs the ``mailplan`` command."""

from planner.cli import main

if __name__ == "__main__":
    main()
