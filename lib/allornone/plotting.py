"""The book's shared figure style. Nothing happens at import: notebooks call
:func:`setup` once."""

from __future__ import annotations

__all__ = ["setup", "COLORS"]

#: Colour per role, used consistently across pages.
COLORS = {
    "model": "#1f77b4",
    "equivalent": "#ff7f0e",
    "counterexample": "#d62728",
    "neutral": "#7f7f7f",
    "ok": "#2ca02c",
}


def setup(dpi: int = 110) -> None:
    """Apply the book's matplotlib style (small, clean, readable offline)."""
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.dpi": dpi,
        "savefig.dpi": dpi,
        "figure.figsize": (6.4, 3.6),
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "font.size": 10,
        "legend.frameon": False,
    })
