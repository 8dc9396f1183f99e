"""Sphinx extension for the book's status page (``book/status.md``).

Everything it shows is measured by the build that produces the page:

``{companion-versions}``
    a table of the versions of the key packages, read with ``importlib.metadata``
    from the environment that runs the build, plus the Python version.
``{companion-build-stats}``
    the wall time of this build (from ``builder-inited`` to ``build-finished``) and
    the size of the built HTML directory. Both are only known once the build has
    finished, so the directive writes placeholders and the ``build-finished`` handler
    replaces them in the written HTML file.
``{companion-benchmarks}``
    one section per ``benchmarks/*.json`` file (``results.json``, written by ``make bench``,
    first; then every other benchmark a script writes there, by name), each flattened into a
    table whatever its JSON shape, or a sentence saying that no benchmark results exist.

Pages that use these directives are re-read on every build (``env-get-outdated``),
so their numbers can never be left over from an earlier build.

The extension also removes duplicated ``<script>`` tags from every page (see ``_dedupe_scripts``)
and makes each notebook page's ``.ipynb`` download the executed notebook, with its outputs
(see ``publish_executed_notebooks``).
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

KEY_PACKAGES = (
    "allornone",
    "numpy",
    "torch",
    "matplotlib",
    "transformers",
    "jupyter-book",
    "sphinx",
    "myst-nb",
    "sphinx-book-theme",
    "sphinx-proof",
    "sphinxcontrib-bibtex",
    "papermill",
    "ipykernel",
)

PLACEHOLDER_DURATION = "COMPANION-PLACEHOLDER-BUILD-SECONDS"
PLACEHOLDER_SIZE = "COMPANION-PLACEHOLDER-SITE-MB"
PLACEHOLDER_FILES = "COMPANION-PLACEHOLDER-SITE-FILES"
_DOCS_KEY = "companion_status_docs"


def _table(header: list[str], rows: list[list[str]], classes: list[str]) -> nodes.table:
    table = nodes.table(classes=classes)
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    thead = nodes.thead()
    group += thead
    row = nodes.row()
    for cell in header:
        row += nodes.entry("", nodes.paragraph(text=cell))
    thead += row
    tbody = nodes.tbody()
    group += tbody
    for values in rows:
        row = nodes.row()
        for cell in values:
            row += nodes.entry("", nodes.paragraph(text=cell))
        tbody += row
    return table


def package_versions(names=KEY_PACKAGES) -> list[tuple[str, str]]:
    """(name, version) for each package; ``"not installed"`` when absent."""
    out = [("python", platform.python_version())]
    for name in names:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return out


class _Tracked(SphinxDirective):
    def _track(self) -> None:
        docs = getattr(self.env, _DOCS_KEY, set())
        docs.add(self.env.docname)
        setattr(self.env, _DOCS_KEY, docs)


class VersionsDirective(_Tracked):
    has_content = False

    def run(self):
        self._track()
        rows = [[name, version] for name, version in package_versions()]
        return [_table(["package", "version"], rows, ["companion-versions"])]


class BuildStatsDirective(_Tracked):
    has_content = False

    def run(self):
        self._track()
        started = self.env.app.companion_started_utc
        html = self.env.app.builder.format == "html"  # the placeholders are filled in the HTML files only
        later = "measured by the HTML build only"
        items = [
            ("built at (UTC)", started.strftime("%Y-%m-%d %H:%M:%S")),
            ("Sphinx build wall time, including notebook execution (s)", PLACEHOLDER_DURATION if html else later),
            ("size of the built site (MB)", PLACEHOLDER_SIZE if html else later),
            ("files in the built site", PLACEHOLDER_FILES if html else later),
            ("builder", self.env.app.builder.name),
        ]
        return [_table(["quantity", "value"], [[k, v] for k, v in items], ["companion-build-stats"])]


MAX_LIST_ITEMS = 20   # a longer list of scalars is shown by its first items and its length
MAX_ROWS = 300        # a table stops there and says how many rows it left out


def _flatten(data, prefix=""):
    """Any JSON value as (dotted key, leaf value) pairs, so every number gets its own row.

    Dicts recurse with ``key.sub``, lists of scalars become one comma-separated cell, other
    lists recurse with ``key[i]`` over their first ``MAX_LIST_ITEMS`` items (and one row giving
    the length of a longer one); a scalar at the top level is one row named ``value``.
    """
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from _flatten(value, f"{prefix}{key}.")
    elif isinstance(data, list) and data and not all(_is_scalar(v) for v in data):
        for i, value in enumerate(data[:MAX_LIST_ITEMS]):
            yield from _flatten(value, f"{prefix.rstrip('.')}[{i}].")
        if len(data) > MAX_LIST_ITEMS:  # a long list of records: its first items and its length
            yield prefix.rstrip("."), f"… {len(data)} items in all, the first {MAX_LIST_ITEMS} shown"
    else:
        yield (prefix.rstrip(".") or "value"), data


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _benchmark_rows(data) -> tuple[list[str], list[list[str]]]:
    """Any JSON document as a table.

    A list of records (dicts), or a dict whose values are all records, is one row per record
    with a column per (flattened) key; anything else is a ``benchmark | value`` table of its
    flattened leaves. A ``benchmarks`` or ``results`` key holding the records is looked into.
    """
    if isinstance(data, dict):
        for key in ("benchmarks", "results"):
            if isinstance(data.get(key), (list, dict)) and data[key] and len(data) == 1:
                data = data[key]
                break
    records = None
    if isinstance(data, dict) and data and all(isinstance(v, dict) and v for v in data.values()):
        records = [{"benchmark": k, **dict(_flatten(v))} for k, v in data.items()]
    elif isinstance(data, list) and data and all(isinstance(r, dict) and r for r in data):
        records = [dict(_flatten(r)) for r in data]
    if records is not None:
        header: list[str] = []
        for record in records:
            header.extend(k for k in record if k not in header)
        if len(header) <= 12:
            return header, [[_fmt(r.get(k, "")) for k in header] for r in records]
    return ["benchmark", "value"], [[k, _fmt(v)] for k, v in _flatten(data)]


def _fmt(value) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        shown = ", ".join(_fmt(v) for v in value[:MAX_LIST_ITEMS])
        return shown if len(value) <= MAX_LIST_ITEMS else f"{shown}, … ({len(value)} values)"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def benchmark_files(srcdir) -> list[Path]:
    """Every ``benchmarks/*.json`` of the book's source tree: results.json first, then by name."""
    files = sorted((Path(srcdir) / "benchmarks").glob("*.json"))
    return sorted(files, key=lambda p: (p.name != "results.json", p.name))


def benchmark_section(path: Path) -> nodes.section:
    """One section for one benchmark file: its name, when it was written, and its table."""
    rel = f"benchmarks/{path.name}"
    section = nodes.section(ids=[f"benchmark-{nodes.make_id(path.stem)}"], names=[nodes.fully_normalize_name(rel)])
    section += nodes.title(text=rel)
    stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        # shown on the page (the book still builds); tests/test_book.py fails on it
        section += nodes.paragraph(text=f"{rel} could not be read: {err}", classes=["companion-benchmark-error"])
        return section
    header, rows = _benchmark_rows(data)
    left_out = len(rows) - MAX_ROWS
    text = f"From {rel} (written {stamp}"
    text += f"; the first {MAX_ROWS} of {len(rows)} rows):" if left_out > 0 else "):"
    section += nodes.paragraph(text=text)
    section += _table(header, rows[:MAX_ROWS], ["companion-benchmarks"])
    return section


class BenchmarksDirective(_Tracked):
    """One section per ``benchmarks/*.json`` file, so a new benchmark shows up with no code change."""

    has_content = False

    def run(self):
        self._track()
        files = benchmark_files(self.env.srcdir)
        if not files:
            para = nodes.paragraph(
                text="No benchmark results: benchmarks/ holds no .json file in this checkout "
                "(run `make bench` to produce benchmarks/results.json, then rebuild)."
            )
            return [para]
        out = []
        for path in files:
            self.env.note_dependency(str(path))
            out.append(benchmark_section(path))
        return out


def _builder_inited(app) -> None:
    app.companion_started = time.perf_counter()
    app.companion_started_utc = datetime.now(timezone.utc)


def _always_outdated(app, env, added, changed, removed):
    return sorted(d for d in getattr(env, _DOCS_KEY, set()) if d not in added | changed | removed)


def _purge(app, env, docname):
    docs = getattr(env, _DOCS_KEY, set())
    docs.discard(docname)


def _merge(app, env, docnames, other):
    docs = getattr(env, _DOCS_KEY, set())
    docs.update(getattr(other, _DOCS_KEY, set()) & set(docnames))
    setattr(env, _DOCS_KEY, docs)


def site_size(outdir: Path) -> tuple[int, int]:
    """(bytes, number of files) under ``outdir``, like ``du --apparent-size``."""
    total = count = 0
    for root, _dirs, files in os.walk(outdir):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
            count += 1
    return total, count


def executed_notebook(app, docname: str, source: Path) -> str | None:
    """The notebook ``docname`` with the outputs of this build's execution, as JSON text (None if unknown).

    With ``execute_notebooks: cache`` the outputs live in the jupyter-cache only (myst-nb writes
    ``_build/jupyter_execute/<doc>.ipynb`` from the unmerged, output-free notebook), so they are
    merged from the cache exactly as myst-nb does when it renders the page. In the other
    execution modes ``_build/jupyter_execute/<doc>.ipynb`` holds the executed notebook.
    """
    import nbformat

    config = app.env.mystnb_config
    if config.execution_mode == "cache":
        from jupyter_cache import get_cache

        notebook = nbformat.reads(source.read_text(encoding="utf-8"), as_version=4)
        try:
            _, merged = get_cache(config.execution_cache_path).merge_match_into_notebook(notebook)
        except KeyError:
            return None
        return nbformat.writes(merged)
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{docname}.ipynb"
    return executed.read_text(encoding="utf-8") if executed.is_file() else None


def publish_executed_notebooks(app) -> list[Path]:
    """Replace each notebook's ``_sources/<doc>.ipynb`` (the committed notebook, no outputs) by
    the notebook as this build executed it, with its outputs.

    The theme's download button links ``_sources/<doc>.ipynb``, so a reader downloads the page
    as they see it. Returns the files written.
    """
    if not app.config.html_copy_source:
        return []
    outdir = Path(app.outdir)
    suffix = app.config.html_sourcelink_suffix
    written = []
    for docname in sorted(app.env.found_docs):
        source = Path(app.env.doc2path(docname))
        if source.suffix != ".ipynb":
            continue
        sourcename = docname + source.suffix
        if not sourcename.endswith(suffix):
            sourcename += suffix
        target = outdir / "_sources" / sourcename
        if not target.exists():
            continue  # no download for this page (never written)
        text = executed_notebook(app, docname, source)
        if text is None:
            logger.warning("companion_status: no executed version of %s; its .ipynb download has no outputs", docname)
            continue
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def _build_finished(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    publish_executed_notebooks(app)  # before measuring the site's size
    seconds = time.perf_counter() - app.companion_started
    outdir = Path(app.outdir)
    size, count = site_size(outdir)
    for docname in getattr(app.env, _DOCS_KEY, set()):
        page = outdir / app.builder.get_target_uri(docname)
        if not page.exists():
            continue
        html = page.read_text(encoding="utf-8")
        if PLACEHOLDER_DURATION not in html and "companion-build-stats" in html:
            logger.warning("companion_status: build-stats placeholders not found in %s", page)
        html = (
            html.replace(PLACEHOLDER_DURATION, f"{seconds:.1f}")
            .replace(PLACEHOLDER_SIZE, f"{size / 1e6:.1f}")
            .replace(PLACEHOLDER_FILES, str(count))
        )
        page.write_text(html, encoding="utf-8")


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Drop repeated <script> entries from a page.

    With Jupyter Book 1, sphinx-thebe and sphinx-togglebutton register their inline
    configuration scripts twice, so every page throws ``SyntaxError: Identifier
    'THEBE_JS_URL' has already been declared``. The browser tests check for page errors.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        key = (getattr(js, "filename", str(js)) or "", tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe_scripts)
    app.add_directive("companion-versions", VersionsDirective)
    app.add_directive("companion-build-stats", BuildStatsDirective)
    app.add_directive("companion-benchmarks", BenchmarksDirective)
    app.connect("builder-inited", _builder_inited)
    app.connect("env-get-outdated", _always_outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("build-finished", _build_finished)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
