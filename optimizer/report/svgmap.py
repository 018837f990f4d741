"""The map of the network as hand-written SVG: zones, roads, depots and shelters.

Zones are circles whose area follows population, orange when someone there goes without
in the worst scenario; roads that scenario cuts are red and dashed; depots are squares and
shelters triangles, filled when the plan keeps them open (dark when they already existed),
outlined red when the worst scenario damages them. Every mark has a tooltip. An instance
without coordinates is drawn with a seeded spring layout and says so.

Where to look next: :func:`network_map` draws from :class:`optimizer.report.facts.Facts`,
:func:`comparison_map` from :class:`optimizer.report.compare.Comparison`; both are inlined
by :mod:`optimizer.report.html`.
"""

from __future__ import annotations

from html import escape

import networkx as nx
import numpy as np

from optimizer.instance.data import Instance, Network
from optimizer.report import fmt
from optimizer.report.compare import Comparison, FacilityState
from optimizer.report.facts import Facility, Facts

WIDTH = 640.0
# Zones short of help in the worst scenario get their id beside them, up to this many (the
# rows of the report's table of who goes without; more would bury the map in text).
ZONES_LABELLED = 15
PAD = 28.0
LEGEND = 58.0
ZONE_MIN, ZONE_MAX = 3.0, 15.0
ROAD, ROAD_CUT = "#b9c0c8", "#d62728"
ZONE, ZONE_SHORT = "#9ecae1", "#f28e2b"
DEPOT_NEW, DEPOT_OLD = "#1f77b4", "#0b3d6b"
SHELTER_NEW, SHELTER_OLD = "#2ca02c", "#15591a"


def positions(instance: Instance) -> tuple[np.ndarray, np.ndarray, bool]:
    """Node coordinates (x, y) and whether they are the instance's own."""
    net = instance.network
    if net.x is not None and net.y is not None:
        return np.asarray(net.x, dtype=float), np.asarray(net.y, dtype=float), True
    graph = nx.Graph()
    graph.add_nodes_from(range(net.num_nodes))
    graph.add_edges_from(zip(net.edge_from.tolist(), net.edge_to.tolist(), strict=True))
    layout = nx.spring_layout(graph, seed=7)
    xy = np.array([layout[i] for i in range(net.num_nodes)], dtype=float).reshape(-1, 2)
    return xy[:, 0], xy[:, 1], False


def _attr(value: str) -> str:
    return escape(value, quote=True)


def _square(x: float, y: float, size: float, fill: str, stroke: str, tip: str) -> str:
    h = size / 2
    return (f'<rect x="{x - h:.1f}" y="{y - h:.1f}" width="{size:.1f}" height="{size:.1f}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"><title>{escape(tip)}</title>'
            "</rect>")


def _triangle(x: float, y: float, size: float, fill: str, stroke: str, tip: str) -> str:
    h = size * 0.6
    points = f"{x:.1f},{y - h:.1f} {x - h:.1f},{y + h * 0.8:.1f} {x + h:.1f},{y + h * 0.8:.1f}"
    return (f'<polygon points="{points}" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="1.5"><title>{escape(tip)}</title></polygon>')


def _text(x: float, y: float, text: str, size: float = 10.5, anchor: str = "start",
          weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" class="halo">{escape(text)}</text>')


def _label(x: float, y: float, text: str) -> str:
    """A facility's label beside it, on its left near the right edge of the map."""
    if x > WIDTH - PAD - 110:
        return _text(x - 9, y, text, anchor="end")
    return _text(x + 9, y, text)


def _frame(instance: Instance) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Pixel positions of the nodes (north up), the picture's height, whether the
    coordinates are the instance's own."""
    xs, ys, own = positions(instance)
    span_x = float(xs.max() - xs.min()) or 1.0
    span_y = float(ys.max() - ys.min()) or 1.0
    aspect = min(max(span_y / span_x, 0.45), 1.4)
    inner_w = WIDTH - 2 * PAD
    inner_h = inner_w * aspect
    height = inner_h + 2 * PAD + LEGEND
    px = PAD + (xs - xs.min()) * (inner_w / span_x)
    py = PAD + inner_h - (ys - ys.min()) * (inner_h / span_y)
    return px, py, height, own


def _largest_population(net: Network) -> float:
    """The largest population of a zone (1 when no zone has any): the circles' scale."""
    population = net.population
    return float(population.max()) if population.size and population.max() > 0 else 1.0


def _radius(pop: float, top: float) -> float:
    """A zone's circle: its area follows population (``top``: the largest)."""
    return ZONE_MIN + (ZONE_MAX - ZONE_MIN) * np.sqrt(pop / top) if pop > 0 else 2.0


def _node_of(instance: Instance) -> dict[tuple[str, str], int]:
    """(kind, id) of every depot and shelter -> its node."""
    node_of = {("depot", d.id): d.node for d in instance.depots}
    node_of.update({("shelter", h.id): h.node for h in instance.shelters})
    return node_of


def _spot(node: int, at_node: dict[int, int], px: np.ndarray,
          py: np.ndarray) -> tuple[float, float]:
    """Where the next facility at ``node`` is drawn: side by side with those already there
    (``at_node`` counts them, and is updated)."""
    slot = at_node.get(node, 0)
    at_node[node] = slot + 1
    x = px[node] + (slot - 0.5) * 14 if slot else px[node] - 7
    return x, py[node]


def _schematic_note() -> str:
    return _text(WIDTH - PAD, PAD - 10, "schematic layout: the instance has no coordinates",
                 anchor="end")


def network_map(facts: Facts) -> str:
    """The map as an ``<svg>`` element (no XML prolog), for inline use in HTML."""
    instance = facts.instance
    assert instance is not None, "the map needs the instance"
    px, py, height, own = _frame(instance)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0f} {height:.0f}" '
             f'class="map" role="img" aria-label="Map of the network of '
             f'{_attr(instance.name)}">',
             "<style>.halo{paint-order:stroke;stroke:#fff;stroke-width:3px;"
             "stroke-linejoin:round;fill:#222;font-family:inherit}</style>"]
    parts += _roads(facts, instance, px, py)
    zones, zone_labels = _zones(facts, instance, px, py)
    marks, labels = _facilities(facts, instance, px, py)
    parts += zones + marks + zone_labels + labels
    parts += _legend(height, facts.worst.id)
    if not own:
        parts.append(_schematic_note())
    parts.append("</svg>")
    return "\n".join(parts)


def _roads(facts: Facts, instance: Instance, px: np.ndarray, py: np.ndarray) -> list[str]:
    """Every road, those the worst scenario cuts red and dashed, each with a tooltip."""
    net = instance.network
    cut = set(facts.failed_roads or ())
    lines = []
    for j in range(net.num_edges):
        u, v = int(net.edge_from[j]), int(net.edge_to[j])
        road = net.edge_ids[j]
        is_cut = road in cut
        style = (f'stroke="{ROAD_CUT}" stroke-width="2.6" stroke-dasharray="6 3"' if is_cut
                 else f'stroke="{ROAD}" stroke-width="1.4"')
        tip = f"road {road} ({net.node_ids[u]}–{net.node_ids[v]}, length " \
              f"{fmt.number(float(net.edge_length[j]))})" + (f", cut in {facts.worst.id}"
                                                            if is_cut else "")
        lines.append(f'<line x1="{px[u]:.1f}" y1="{py[u]:.1f}" x2="{px[v]:.1f}" '
                     f'y2="{py[v]:.1f}" {style}><title>{escape(tip)}</title></line>')
    return lines


def _zones(facts: Facts, instance: Instance, px: np.ndarray,
           py: np.ndarray) -> tuple[list[str], list[str]]:
    """The zones' circles, orange where someone goes without in the worst scenario, and
    the ids of the first :data:`ZONES_LABELLED` of those."""
    net = instance.network
    worst = facts.worst
    population = net.population
    top = _largest_population(net)
    short = {z.zone: z for z in facts.shortfalls[0].zones} if facts.shortfalls else {}
    circles: list[str] = []
    zone_labels: list[str] = []
    for i, zone in enumerate(net.node_ids):
        pop = float(population[i])
        radius = _radius(pop, top)
        tip = f"zone {zone}: population {fmt.units(pop)}"
        fill = ZONE
        if zone in short:
            fill = ZONE_SHORT
            z = short[zone]
            missing = ", ".join(f"{fmt.units(u)} {k}" for k, u in z.need.items())
            tip += f"; in {worst.id}: " + "; ".join(
                p for p in (f"{missing} not delivered" if missing else "",
                            f"{fmt.units(z.unsheltered)} people unsheltered"
                            if z.unsheltered else "") if p)
        circles.append(f'<circle cx="{px[i]:.1f}" cy="{py[i]:.1f}" r="{radius:.1f}" '
                       f'fill="{fill}" fill-opacity="0.8" stroke="#fff" stroke-width="0.8">'
                       f"<title>{escape(tip)}</title></circle>")
        if zone in short and len(zone_labels) < ZONES_LABELLED:
            # The zones the report's table of who goes without names, so that a reader
            # finds them on the map.
            zone_labels.append(_text(px[i] + radius + 2, py[i] + 3, zone, size=9.5))
    return circles, zone_labels


def _facilities(facts: Facts, instance: Instance, px: np.ndarray,
                py: np.ndarray) -> tuple[list[str], list[str]]:
    """Depots (squares) and shelters (triangles) and the labels of the open ones."""
    node_of = _node_of(instance)
    at_node: dict[int, int] = {}
    marks: list[str] = []
    labels: list[str] = []
    for f in facts.facilities:
        node = node_of.get((f.kind, f.id))
        if node is None:
            continue
        x, y = _spot(node, at_node, px, py)
        mark, label = _facility(f, x, y, instance.network.node_ids[node], facts.worst.id)
        marks.append(mark)
        if label is not None:
            labels.append(label)
    return marks, labels


def _facility(f: Facility, x: float, y: float, node: str,
              worst: str) -> tuple[str, str | None]:
    """One facility's mark, filled when open (dark when it already existed), outlined red
    when the worst scenario damages it; and its label when open."""
    damaged = bool(f.loss_in_worst)
    stroke = ROAD_CUT if damaged else ("#333" if f.open else "#888")
    state = ("existing" if f.existing else "new") if f.open else "closed candidate"
    loss = (f"; loses {fmt.percent(f.loss_in_worst)} in {worst}" if damaged else "")
    if f.kind == "depot":
        fill = (DEPOT_OLD if f.existing else DEPOT_NEW) if f.open else "#fff"
        bought = sum(f.bought.values())
        stock = ", ".join(f"{fmt.units(v)} {k}" for k, v in (f.on_hand or f.bought).items())
        tip = f"depot {f.id} at {node} ({state}): " + (
            f"{stock} on hand, {fmt.units(bought)} bought" if f.open else "not opened") + loss
        if not f.open:
            return _square(x, y, 12, fill, stroke, tip), None
        # Per commodity: units of water and of food do not add up.
        per = " ".join(f"+{fmt.units(v)} {k}" for k, v in f.bought.items() if v)
        return (_square(x, y, 12, fill, stroke, tip),
                _label(x, y - 7, f"{f.id} {per}" if per else f.id))
    fill = (SHELTER_OLD if f.existing else SHELTER_NEW) if f.open else "#fff"
    tip = f"shelter {f.id} at {node} ({state}): " + (
        f"{fmt.units(f.capacity)} places, {f.modules} modules" if f.open
        else "not opened") + loss
    return (_triangle(x, y, 14, fill, stroke, tip),
            _label(x, y + 14, f"{f.id} {fmt.units(f.capacity)} pl.") if f.open else None)


def _legend(height: float, worst: str) -> list[str]:
    """The legend, inside the picture so that it prints with it: two rows of marks."""
    ly = height - LEGEND + 18
    lx = PAD
    items = [
        (f'<circle cx="{lx + 6}" cy="{ly}" r="6" fill="{ZONE}"/>', "zone (area ~ population)"),
        (f'<circle cx="{lx + 6}" cy="{ly}" r="6" fill="{ZONE_SHORT}"/>',
         f"zone short of help in {worst}"),
        (f'<line x1="{lx}" y1="{ly}" x2="{lx + 16}" y2="{ly}" stroke="{ROAD_CUT}" '
         'stroke-width="2.6" stroke-dasharray="6 3"/>', f"road cut in {worst}"),
        (_square(lx + 6, ly, 11, "#fff", ROAD_CUT, "damaged facility"),
         f"damaged in {worst}"),
    ]
    items2 = [
        (_square(lx + 6, ly + 22, 11, DEPOT_NEW, "#333", "new depot"), "depot (new)"),
        (_square(lx + 6, ly + 22, 11, DEPOT_OLD, "#333", "existing depot"), "depot (existing)"),
        (_triangle(lx + 6, ly + 22, 13, SHELTER_NEW, "#333", "new shelter"), "shelter (new)"),
        (_triangle(lx + 6, ly + 22, 13, SHELTER_OLD, "#333", "existing shelter"),
         "shelter (existing)"),
        (_square(lx + 6, ly + 22, 11, "#fff", "#888", "closed candidate"), "not opened"),
    ]
    parts = []
    for row, entries, step in ((0, items, 150), (22, items2, 118)):
        for n, (mark, text) in enumerate(entries):
            shift = n * step
            parts.append(f'<g transform="translate({shift},0)">{mark}'
                         f'<text x="{lx + 20}" y="{ly + row + 4}" font-size="10.5" '
                         f'fill="#333">{escape(text)}</text></g>')
    return parts


CHANGED = "#f28e2b"  # a facility the plans treat differently
SAME_OPEN = "#6b7b8c"  # open alike in every plan


def comparison_map(c: Comparison) -> str:
    """What differs between the compared plans, on the network: facilities every plan keeps
    closed are outlines, those open alike grey, those the plans treat differently orange
    and labelled with each plan's choice (per commodity for depots)."""
    instance = c.instance
    assert instance is not None, "the map needs the instance"
    px, py, height, own = _frame(instance)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0f} {height:.0f}" '
             f'class="map" role="img" aria-label="What differs between the plans for '
             f'{_attr(instance.name)}">',
             "<style>.halo{paint-order:stroke;stroke:#fff;stroke-width:3px;"
             "stroke-linejoin:round}</style>"]
    names = [o.label for o in c.options]
    parts += _plain_network(instance, px, py)
    marks, labels = _compared_facilities(c, instance, names, px, py)
    parts += marks + labels
    parts += _comparison_legend(height)
    parts.append(_text(WIDTH - PAD, height - 10, "labels: " + " | ".join(names),
                       size=9.5, anchor="end"))
    if not own:
        parts.append(_schematic_note())
    parts.append("</svg>")
    return "\n".join(parts)


def _plain_network(instance: Instance, px: np.ndarray, py: np.ndarray) -> list[str]:
    """Roads and zones without the worst scenario: the background of the comparison."""
    net = instance.network
    parts = []
    for j in range(net.num_edges):
        u, v = int(net.edge_from[j]), int(net.edge_to[j])
        parts.append(f'<line x1="{px[u]:.1f}" y1="{py[u]:.1f}" x2="{px[v]:.1f}" '
                     f'y2="{py[v]:.1f}" stroke="{ROAD}" stroke-width="1.4"/>')
    top = _largest_population(net)
    for i, zone in enumerate(net.node_ids):
        pop = float(net.population[i])
        radius = _radius(pop, top)
        parts.append(f'<circle cx="{px[i]:.1f}" cy="{py[i]:.1f}" r="{radius:.1f}" '
                     f'fill="{ZONE}" fill-opacity="0.6" stroke="#fff" stroke-width="0.8">'
                     f"<title>{escape(f'zone {zone}: population {fmt.units(pop)}')}</title>"
                     "</circle>")
    return parts


def _compared_facilities(c: Comparison, instance: Instance, names: list[str],
                         px: np.ndarray, py: np.ndarray) -> tuple[list[str], list[str]]:
    """Every facility's mark, coloured by whether the plans agree on it (``names``: the
    options' labels, in order), and the labels of those they treat differently."""
    node_of = _node_of(instance)
    at_node: dict[int, int] = {}
    marks: list[str] = []
    labels: list[str] = []
    for row in c.facilities:
        node = node_of.get((row.kind, row.id))
        if node is None:
            continue
        x, y = _spot(node, at_node, px, py)
        opened = [s is not None and s.open for s in row.states]
        choices = [("–" if s is None else s.describe(row.kind)) for s in row.states]
        tip = f"{row.kind} {row.id}: " + "; ".join(
            f"{n}: {text}" for n, text in zip(names, choices, strict=True))
        fill = CHANGED if row.changed else (SAME_OPEN if all(opened) else "#fff")
        stroke = "#333" if any(opened) else "#888"
        shape = _square(x, y, 12, fill, stroke, tip) if row.kind == "depot" else \
            _triangle(x, y, 14, fill, stroke, tip)
        marks.append(shape)
        if row.changed:
            short = [_short(row.kind, s) for s in row.states]
            labels.append(_label(x, y - 8, f"{row.id}: " + " | ".join(short)))
    return marks, labels


def _comparison_legend(height: float) -> list[str]:
    """The comparison map's legend: three marks in a row, the shapes below."""
    ly, lx = height - LEGEND + 18, PAD
    items = [(_square(lx + 6, ly, 11, CHANGED, "#333", "differs"), "differs between plans"),
             (_square(lx + 6, ly, 11, SAME_OPEN, "#333", "open alike"), "open in every plan"),
             (_square(lx + 6, ly, 11, "#fff", "#888", "closed"), "closed in every plan"),
             (_triangle(lx + 6, ly + 22, 13, "#fff", "#333", "shelter"),
              "triangles: shelters; squares: depots")]
    parts = []
    for n, (mark, text) in enumerate(items):
        dx, dy = (n * 180, 0) if n < 3 else (0, 22)
        parts.append(f'<g transform="translate({dx},0)">{mark}'
                     f'<text x="{lx + 20}" y="{ly + dy + 4}" font-size="10.5" '
                     f'fill="#333">{escape(text)}</text></g>')
    return parts


def _short(kind: str, state: FacilityState | None) -> str:
    """A plan's choice at one facility in a few characters: closed, 120 pl., +50 water."""
    if state is None or not state.open:
        return "closed"
    if kind == "shelter":
        return f"{fmt.units(state.capacity)} pl."
    bought = [f"+{fmt.units(v)} {k}" for k, v in state.stock.items() if v]
    return " ".join(bought) or "open"
