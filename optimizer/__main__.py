"""``python -m optimizer``: the ``resilience`` command."""

from optimizer.cli import main

main(prog_name="resilience")
