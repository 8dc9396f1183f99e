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
    the table in ``benchmarks/results.json`` (written by ``make bench``), or a
    sentence saying that no benchmark results exist.

Pages that use these directives are re-read on every build (``env-get-outdated``),
so their numbers can never be left over from an earlier build.

The extension also removes duplicated ``<script>`` tags from every page (see ``_dedupe_scripts``).
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
        items = [
            ("built at (UTC)", started.strftime("%Y-%m-%d %H:%M:%S")),
            ("Sphinx build wall time, including notebook execution (s)", PLACEHOLDER_DURATION),
            ("size of the built site (MB)", PLACEHOLDER_SIZE),
            ("files in the built site", PLACEHOLDER_FILES),
            ("builder", self.env.app.builder.name),
        ]
        return [_table(["quantity", "value"], [[k, v] for k, v in items], ["companion-build-stats"])]


def _flatten(data, prefix=""):
    """Nested dicts as (dotted key, leaf value) pairs, so every number gets its own row."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _flatten(value, name + ".")
        elif isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
            yield name, ", ".join(_fmt(v) for v in value)
        else:
            yield name, value


def _benchmark_rows(data) -> tuple[list[str], list[list[str]]]:
    """Turn results.json into a table: a list of records, a dict of records, or a dict of values."""
    if isinstance(data, dict):
        for key in ("benchmarks", "results"):
            if isinstance(data.get(key), (list, dict)):
                data = data[key]
                break
    if isinstance(data, dict):
        if all(isinstance(v, dict) for v in data.values()):
            data = [{"benchmark": k, **v} for k, v in data.items()]
        else:
            return ["benchmark", "value"], [[k, _fmt(v)] for k, v in _flatten(data)]
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        header: list[str] = []
        for record in data:
            header.extend(k for k in record if k not in header)
        return header, [[_fmt(r.get(k, "")) for k in header] for r in data]
    raise ValueError("benchmarks/results.json: expected a list of records or a dict")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class BenchmarksDirective(_Tracked):
    has_content = False

    def run(self):
        self._track()
        path = Path(self.env.srcdir) / "benchmarks" / "results.json"
        if not path.exists():
            para = nodes.paragraph(
                text="No benchmark results: benchmarks/results.json does not exist in this checkout "
                "(run `make bench` to produce it, then rebuild)."
            )
            return [para]
        self.env.note_dependency(str(path))
        data = json.loads(path.read_text())
        header, rows = _benchmark_rows(data)
        stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        intro = nodes.paragraph(text=f"From benchmarks/results.json (written {stamp}):")
        return [intro, _table(header, rows, ["companion-benchmarks"])]


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


def _build_finished(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
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
