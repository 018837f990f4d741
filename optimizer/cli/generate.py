"""``resilience generate grid|geometric``: write a synthetic instance file.

Thin: the options become arguments of :func:`optimizer.sources.synthetic.grid_instance` or
:func:`~optimizer.sources.synthetic.geometric_instance`; the instance is checked the way
``resilience validate`` would check it before it is written (atomically). The group is
registered on the main command in ``optimizer.cli``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from optimizer.choices import REACH_SHARE
from optimizer.cli.common import err, handled
from optimizer.errors import UsageError
from optimizer.files import write_atomic


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def generate() -> None:
    """Write a synthetic instance file (seeded: the same options give the same file)."""


def _common(command: Callable[..., None]) -> Callable[..., None]:
    """The options every synthetic generator shares, in the order --help shows them."""
    options = [
        click.option("-o", "--output", required=True,
                     help="Instance file to write ('-' prints it)."),
        click.option("--scenarios", type=click.IntRange(1), default=20, show_default=True,
                     help="Number of hazard scenarios."),
        click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
                     help="Seed of the network, facilities and hazards."),
        click.option("--commodities", type=click.IntRange(1), default=1, show_default=True,
                     help="Commodities: water, food, kit, medicine, blanket, then random."),
        click.option("--depots", type=click.IntRange(0),
                     help="Candidate depots [default: a tenth of the nodes, at least 1]."),
        click.option("--shelters", type=click.IntRange(0),
                     help="Candidate shelters [default: a tenth of the nodes, at least 1]."),
        click.option("--existing-depots", type=click.IntRange(0), default=0,
                     show_default=True, help="How many depots are already open (and hold "
                     "stock)."),
        click.option("--existing-shelters", type=click.IntRange(0), default=0,
                     show_default=True, help="How many shelters are already open."),
        click.option("--budget-share", type=click.FloatRange(0), default=0.3,
                     show_default=True, help="Budget as a share of the cost of buying "
                     "everything."),
        click.option("--redundancy", type=click.IntRange(0), default=0, show_default=True,
                     help="Shelter redundancy policy (the evacuation reach is raised so "
                     "that it can be met)."),
        click.option("--money-scale", type=click.FloatRange(0, min_open=True), default=1.0,
                     show_default=True, help="Multiplies every money figure."),
        click.option("--reach-share", type=click.FloatRange(0, min_open=True),
                     default=REACH_SHARE,
                     show_default=True, help="Supply and evacuation reach as a share of the "
                     "network's diameter."),
        click.option("--population", type=(click.IntRange(0), click.IntRange(0)),
                     default=(100, 2000), show_default=True,
                     help="Smallest and largest population of a populated zone."),
        click.option("--name", help="Instance name [default: from the sizes and seed]."),
        click.option("--explicit", is_flag=True,
                     help="Write the generated scenarios instead of the scenario_generators "
                     "entry that makes them."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _write(doc: dict[str, Any], output: str) -> None:
    """Check the instance as ``validate`` would, then write it (or print it for '-')."""
    from optimizer.instance.reading import build_instance
    from optimizer.instance.schema import InstanceFile

    built = build_instance(InstanceFile.model_validate(doc), default_name=doc["name"])
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if output == "-":
        click.echo(text, nl=False)
    else:
        write_atomic(output, text)
    n_failed = sum(1 for s in built.scenarios if s.failed_edges)
    where = "standard output" if output == "-" else output
    err.print(f"wrote {where}: {built.name}: {built.network.num_nodes} nodes, "
              f"{built.network.num_edges} roads, {len(built.depots)} depots, "
              f"{len(built.shelters)} shelters, {len(built.scenarios)} scenarios "
              f"({n_failed} with failed roads), budget {built.budget:,.2f}.", soft_wrap=True)


def _make(builder: Callable[..., dict[str, Any]], *sizes: int, explicit: bool,
          population: tuple[int, int], **options: Any) -> dict[str, Any]:
    try:
        return builder(*sizes, scenario_generators=not explicit, population=population,
                       **options)
    except ValueError as exc:
        # The library names its arguments; the user typed options.
        message = str(exc).replace("_", "-")
        raise UsageError(f"inconsistent options: {message}") from None


@generate.command()
@click.option("--rows", type=click.IntRange(1), required=True, help="Lattice rows.")
@click.option("--cols", type=click.IntRange(1), required=True, help="Lattice columns.")
@click.option("--diagonals", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of lattice cells that also get a diagonal road.")
@_common
@handled
def grid(rows: int, cols: int, output: str, explicit: bool, **options: Any) -> None:
    """A street lattice of ROWS x COLS nodes in the unit square, with circular hazards."""
    from optimizer.sources.synthetic import grid_instance

    _write(_make(grid_instance, rows, cols, options.pop("scenarios"), explicit=explicit,
                 **options), output)


@generate.command()
@click.option("--nodes", type=click.IntRange(1), required=True, help="Number of nodes.")
@click.option("--density", type=click.FloatRange(0, min_open=True), default=1.0,
              show_default=True, help="Multiplies the connection radius (more roads above "
              "1).")
@_common
@handled
def geometric(nodes: int, output: str, explicit: bool, **options: Any) -> None:
    """A random geometric road network in the unit square, with circular hazards."""
    from optimizer.sources.synthetic import geometric_instance

    _write(_make(geometric_instance, nodes, options.pop("scenarios"), explicit=explicit,
                 **options), output)


__all__ = ["generate"]
