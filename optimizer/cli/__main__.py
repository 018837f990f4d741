"""``python -m optimizer.cli``: the same as the ``resilience`` command."""

from optimizer.cli import main

main(prog_name="resilience")
