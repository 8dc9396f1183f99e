"""The book's shared figure style. Nothing happens at import: notebooks call
:func:`setup` once."""

from __future__ import annotations

__all__ = ["setup", "COLORS", "html_table"]

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


class Table:
    """A table output with two forms: HTML for the web book and the pipe table itself as plain text, which
    the PDF (``make pdf``, LaTeX) shows instead of ``<IPython.core.display.HTML object>``."""

    def __init__(self, html: str, text: str):
        self.html, self.text = html, text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


def html_table(markdown: str) -> Table:
    """Render a small pipe table (header, separator, rows) as an HTML display
    object: the book renders Markdown *outputs* as CommonMark, without tables.
    ``**bold**`` markers are dropped. Its plain-text form (the PDF's) is the pipe table."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in markdown.strip().splitlines()]
    if len(rows) < 2:
        raise ValueError("markdown must hold a header line and a separator line")

    def cell(tag, c):
        return f"<{tag}>{c.replace('**', '')}</{tag}>"

    head = "".join(cell("th", h) for h in rows[0])
    body = "".join("<tr>" + "".join(cell("td", c) for c in r) + "</tr>" for r in rows[2:])
    text = "\n".join(line.strip() for line in markdown.strip().replace("**", "").splitlines())
    return Table(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>", text)
