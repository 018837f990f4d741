"""The performance profile as a picture (matplotlib, imported here only, Agg backend)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from optimizer.bench.metrics import Profile, config_label
from optimizer.errors import UsageError
from optimizer.files import write_atomic

PICTURE_FORMATS = (".png", ".svg", ".pdf")


def draw_profile(profile: Profile, path: str | Path, title: str = "") -> None:
    """Write the Dolan-More profile of ``profile`` to ``path`` (.png, .svg or .pdf).

    Step curves of rho_c(tau) against tau on a log2 axis; the curve's height at tau = 1 is
    the share of problems on which the configuration was fastest, its height at the right
    edge the share it solved.
    """
    path = Path(path)
    if path.suffix.lower() not in PICTURE_FORMATS:
        raise UsageError(f"cannot draw {path}: use a name ending in "
                         + ", ".join(PICTURE_FORMATS))
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    right = max(2.0, float(profile.taus.max()) * 1.5)
    fig = Figure(figsize=(6.4, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    styles = ["-", "--", "-.", ":"]
    for j, (config, fractions) in enumerate(profile.fractions.items()):
        x = np.concatenate([profile.taus, [right]])
        y = np.concatenate([fractions, [fractions[-1]]])
        ax.step(x, y, where="post", linestyle=styles[j % len(styles)], linewidth=1.8,
                label=config_label(config))
    ax.set_xscale("log", base=2)
    ax.set_xlim(1.0, right)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("tau: time within this factor of the fastest configuration")
    ax.set_ylabel("share of problems")
    ax.set_title(title or f"Performance profile ({profile.problems} problems)", fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    # No timestamps in the file, so the same results draw the same bytes.
    metadata = {"png": {"Software": None}, "svg": {"Date": None},
                "pdf": {"CreationDate": None}}.get(path.suffix.lower()[1:], {})
    fig.savefig(buffer, format=path.suffix.lower()[1:], dpi=120, metadata=metadata)
    write_atomic(path, buffer.getvalue())


__all__ = ["PICTURE_FORMATS", "draw_profile"]
