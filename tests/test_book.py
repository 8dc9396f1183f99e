"""The whole book builds with -W, and the built site has what a reader needs.

``built_site`` builds the book ONCE per test session, exactly like ``make book``
(``jupyter-book build . -W -n --keep-going`` into ``_build``; the jupyter-cache in
``_build/.jupyter_cache`` makes a rebuild with unchanged notebooks cheap). The browser
tests in ``tests/test_site.py`` reuse the same build.

Development-only overrides (never set in CI): ``COMPANION_BOOK_ROOT`` builds another
source tree (output goes to ``<root>/_build``), ``COMPANION_BOOK_TOC`` another toc file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup
from docutils.nodes import make_id

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from companion_status import _benchmark_rows, benchmark_files, benchmark_section, site_size  # noqa: E402


@dataclass(frozen=True)
class BuiltSite:
    root: Path  # the book's source root
    html: Path  # <root>/_build/html
    toc: Path
    seconds: float
    log: str

    def toc_docs(self) -> list[str]:
        """Every document of the toc, in reading order (root first)."""
        toc = yaml.safe_load(self.toc.read_text())
        docs = [toc["root"]]
        for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
            for ch in part.get("chapters", []):
                docs.append(ch["file"])
                docs.extend(s["file"] for s in ch.get("sections", []))
        return [re.sub(r"\.(md|ipynb)$", "", d) for d in docs]

    def notebook_docs(self) -> list[str]:
        return [d for d in self.toc_docs() if (self.root / f"{d}.ipynb").exists()]

    def page(self, doc: str) -> Path:
        return self.html / f"{doc}.html"

    def soup(self, doc: str) -> BeautifulSoup:
        return BeautifulSoup(self.page(doc).read_text(encoding="utf-8"), "html.parser")


@cache
def _build_once() -> BuiltSite | AssertionError:
    try:
        return _build()
    except AssertionError as err:  # remember a failed build too: never build twice
        return err


def build_site() -> BuiltSite:
    """Build the book once per process (module-level cache, shared by test_site.py)."""
    result = _build_once()
    if isinstance(result, AssertionError):
        raise result
    return result


def _build() -> BuiltSite:
    root = Path(os.environ.get("COMPANION_BOOK_ROOT", ROOT)).resolve()
    toc_override = os.environ.get("COMPANION_BOOK_TOC")
    toc = Path(toc_override).resolve() if toc_override else root / "_toc.yml"
    cmd = [str(JUPYTER_BOOK), "build", str(root), "-W", "-n", "--keep-going"]
    if toc_override:
        cmd += ["--toc", str(toc)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
        reports = root / "_build" / "html" / "reports"
        raise AssertionError(
            f"jupyter-book build -W failed (exit {proc.returncode}); notebook tracebacks in {reports}\n"
            + "\n".join(warnings[-40:] or log.splitlines()[-40:])
        )
    return BuiltSite(root=root, html=root / "_build" / "html", toc=toc, seconds=seconds, log=log)


@pytest.fixture(scope="session")
def built_site() -> BuiltSite:
    return build_site()


# --- tests that need no build ---------------------------------------------------------


def _real_toc_notebooks() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [
        ch["file"]
        for part in toc["parts"]
        for ch in part["chapters"]
        if ch["file"].startswith("notebooks/")
    ]


def test_intro_maps_every_chapter_to_a_claim():
    """The intro's table has one row per notebook chapter, each with a non-empty claim."""
    intro = (ROOT / "book" / "intro.md").read_text()
    rows = {}
    for line in intro.splitlines():
        m = re.match(r"\|\s*[^|]*\|\s*\{doc\}`\.\./(notebooks/[^`]+)`\s*\|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    missing = [nb for nb in _real_toc_notebooks() if nb not in rows]
    assert not missing, f"book/intro.md 'What each chapter supports' lacks rows for {missing}"
    assert all(len(claim) > 10 for claim in rows.values()), rows


def test_readme_cites_the_paper_as_the_bibliography_does():
    """README's BibTeX is book/references.bib's entry for the paper, and CITATION.cff agrees with it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    entry = re.search(r"@inproceedings\{marconato2025allornone,.*?\n\}", bib, re.S).group(0)
    assert entry in readme, "README's 'How to cite' BibTeX differs from book/references.bib"
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["message"] and cff["authors"] and cff["title"]
    assert cff["license"] == "MIT" and "MIT License" in (ROOT / "LICENSE").read_text()
    paper = cff["preferred-citation"]
    fields = dict(re.findall(r"(\w+)\s*=\s*\{(.*)\},?\n", entry))
    assert paper["title"] == fields["title"]
    assert [a["family-names"] for a in paper["authors"]] == re.findall(r"(\w+), [^,]+?(?: and |$)", fields["author"])
    assert (paper["year"], paper["volume"]) == (int(fields["year"]), int(fields["volume"]))
    assert f"{paper['start']}--{paper['end']}" == fields["pages"]
    assert any(i["value"] == fields["note"] for i in paper["identifiers"]), fields["note"]


def test_only_the_test_targets_install_the_browser():
    """`make setup` and `make book` never call the (root-only) Chromium installer; `make test` does."""
    def dry_run(*targets):
        proc = subprocess.run(["make", "-n", "-C", str(ROOT), *targets], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout
    assert "install_browser" not in dry_run("setup", "book")
    assert "install_browser" in dry_run("test") and "install_browser" in dry_run("test-all")


def test_config_polish():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["launch_buttons"] == {"notebook_interface": "jupyterlab", "binderhub_url": "https://mybinder.org"}
    assert cfg["html"]["use_download_button"] and cfg["html"]["use_repository_button"]
    assert cfg["bibtex_bibfiles"] == ["book/references.bib"]
    assert cfg["sphinx"]["config"]["mathjax_path"].startswith("mathjax/"), "math must be served locally"
    assert "companion_status" in cfg["sphinx"]["local_extensions"]


# --- the build ------------------------------------------------------------------------


def test_book_builds_with_warnings_as_errors(built_site):
    """`make book`'s command exits 0 (any warning or failing notebook fails the build)."""
    assert (built_site.html / "index.html").exists()
    for doc in built_site.toc_docs():
        assert built_site.page(doc).exists(), f"{doc} was not built"


def _status_values(site: BuiltSite) -> dict[str, str]:
    table = site.soup("book/status").select_one("table.companion-build-stats")
    assert table is not None, "status page lacks the build-stats table"
    return {
        tr.find_all("td")[0].get_text(strip=True): tr.find_all("td")[1].get_text(strip=True)
        for tr in table.select("tbody tr")
    }


def test_status_page_measures_this_build(built_site):
    text = built_site.page("book/status").read_text(encoding="utf-8")
    assert "COMPANION-PLACEHOLDER" not in text
    values = _status_values(built_site)
    seconds = float(values["Sphinx build wall time, including notebook execution (s)"])
    assert 0 < seconds <= built_site.seconds + 1, (seconds, built_site.seconds)
    size_bytes, n_files = site_size(built_site.html)
    # measured at build-finished; nothing is written into _build/html afterwards
    assert float(values["size of the built site (MB)"]) == pytest.approx(size_bytes / 1e6, abs=0.051)
    assert int(values["files in the built site"]) == n_files
    # the build started during this test session
    built_at = time.strptime(values["built at (UTC)"] + " UTC", "%Y-%m-%d %H:%M:%S %Z")
    assert abs(time.mktime(built_at) - time.mktime(time.gmtime())) < built_site.seconds + 3600


def test_status_page_lists_notebooks_and_versions(built_site):
    soup = built_site.soup("book/status")
    text = soup.get_text(" ", strip=True)
    for doc in built_site.notebook_docs():
        row = next((tr for tr in soup.select("tr") if tr.find("td") and tr.find("td").get_text(strip=True) == doc), None)
        assert row is not None, f"execution table lacks {doc}"
        cells = [td.get_text(strip=True) for td in row.find_all("td")]
        assert "✅" in cells, f"{doc} did not execute cleanly: {cells}"
        assert float(cells[3]) >= 0
    versions = {
        tr.find_all("td")[0].get_text(strip=True): tr.find_all("td")[1].get_text(strip=True)
        for tr in soup.select("table.companion-versions tbody tr")
    }
    for name in ("numpy", "torch", "jupyter-book", "myst-nb"):
        assert versions[name] == metadata.version(name)
    assert versions["torch"].startswith("2.13.0")
    if not benchmark_files(built_site.root):
        assert "No benchmark results" in text


def _leaves(data, path=()):
    """(path, value) of every scalar in a JSON document (an independent walk, not the extension's)."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, (*path, str(k)))
    elif isinstance(data, list):
        for i, v in enumerate(data[:20]):
            yield from _leaves(v, (*path, i))
    else:
        yield path, data


def test_status_page_shows_every_benchmark_file(built_site):
    """Each benchmarks/*.json has its own section and table on the status page, with its numbers."""
    soup = built_site.soup("book/status")
    assert not soup.select(".companion-benchmark-error"), [e.get_text() for e in soup.select(".companion-benchmark-error")]
    files = sorted((built_site.root / "benchmarks").glob("*.json"))
    assert files, "no benchmarks/*.json in the checkout"
    for path in files:
        section = soup.find(id=f"benchmark-{make_id(path.stem)}")
        assert section is not None, f"status page has no section for benchmarks/{path.name}"
        assert f"benchmarks/{path.name}" in section.find(["h1", "h2", "h3", "h4"]).get_text()
        table = section.select_one("table.companion-benchmarks")
        assert table is not None and table.select("tbody tr"), f"no table for benchmarks/{path.name}"
        text = table.get_text(" ", strip=True)
        data = json.loads(path.read_text())
        numbers = [(p, v) for p, v in _leaves(data) if isinstance(v, (int, float)) and not isinstance(v, bool)][:60]
        for where, value in numbers:
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            assert shown in text, f"benchmarks/{path.name}: {'.'.join(map(str, where))} = {shown} not on the page"


ODD_SHAPES = {
    "scalar": 3.5,
    "null": None,
    "string": "ok",
    "empty dict": {},
    "empty list": [],
    "list of scalars": [1, 2.5, "a", None, True],
    "long list": list(range(1000)),
    "records": [{"name": "a", "seconds": 1.0}, {"name": "b", "speedup": 2.0, "nested": {"x": 1}}],
    "dict of records": {"fast": {"seconds": 1.0}, "slow": {"seconds": 9.0, "runs": [1, 2]}},
    "mixed list": [1, {"a": [{"b": 2}]}, [3, [4]]],
    "wrapped": {"results": [{"k": 1}]},
    "wide records": [{f"c{i}": i for i in range(30)}],
    "unicode keys": {"Δp max": 1e-15, "ü": {"ß": "x"}},
    "precise numbers": {"pi": 3.14159265, "big": 123456.789, "speedups": [1.8512, 0.96666]},
}


@pytest.mark.parametrize("shape", sorted(ODD_SHAPES))
def test_benchmark_tables_take_any_json_shape(shape):
    data = ODD_SHAPES[shape]
    header, rows = _benchmark_rows(json.loads(json.dumps(data)))
    assert header and rows, (header, rows)
    assert all(len(r) == len(header) and all(isinstance(c, str) for c in r) for r in rows), rows
    text = " ".join(" ".join(r) for r in rows)
    for _, value in _leaves(data):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (shape != "long list" or value < 20):
            assert (f"{value:.4g}" if isinstance(value, float) else str(value)) in text, (shape, value, rows)
    if shape == "long list":
        assert "1000 values" in text


def test_benchmark_section_reports_unreadable_json(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"seconds": 1.0,')
    section = benchmark_section(bad)
    assert "could not be read" in section.astext() and "benchmarks/broken.json" in section.astext()
    good = tmp_path / "good.json"
    good.write_text('{"seconds": 1.25}')
    assert "1.25" in benchmark_section(good).astext()


def test_ipynb_download_is_the_executed_notebook(built_site):
    """Each notebook page's .ipynb download is the notebook with its outputs (the committed one has none)."""
    for doc in built_site.notebook_docs():
        soup = built_site.soup(doc)
        href = next(a["href"] for a in soup.select("a.btn-download-source-button") if a["href"].endswith(".ipynb"))
        downloaded = (built_site.page(doc).parent / href).resolve()
        assert downloaded.is_file(), f"{doc}: download {href} missing"
        nb = json.loads(downloaded.read_text(encoding="utf-8"))
        committed = json.loads((built_site.root / f"{doc}.ipynb").read_text(encoding="utf-8"))
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
        assert outputs, f"{doc}: the downloaded .ipynb has no outputs"
        assert any(c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"), doc
        def sources(notebook):
            return ["".join(c["source"]) for c in notebook["cells"]]
        assert sources(nb) == sources(committed), (
            f"{doc}: the downloaded notebook is not this page's notebook")


BOX_LABEL = re.compile(r"^(def|thm|lem|prop|cor|ex|rem)-")


def test_boxes_are_numbered_and_cross_referenced(built_site):
    boxes, numbered_refs = 0, 0
    for doc in built_site.toc_docs():
        soup = built_site.soup(doc)
        for box in soup.select("div.proof.admonition"):
            if set(box["class"]) == {"proof", "admonition"}:
                continue  # a {prf:proof} is not numbered
            boxes += 1
            assert box.select_one(".caption-number"), f"unnumbered box {box.get('id')} in {doc}"
            assert BOX_LABEL.match(box.get("id", "")), f"box without a def-/thm-/... label in {doc}: {box.get('id')}"
        for a in soup.select("a.reference.internal[href*='#']"):
            if BOX_LABEL.match(a["href"].split("#", 1)[1]) and re.fullmatch(r"\w+ \d+", a.get_text(strip=True)):
                numbered_refs += 1
    assert boxes > 0 and numbered_refs > 0, (boxes, numbered_refs)


def _figures(site: BuiltSite) -> list[tuple[str, object]]:
    """(doc, <figure>) for every image a notebook cell outputs; None when it has no figure."""
    out = []
    for doc in site.notebook_docs():
        for img in site.soup(doc).select("div.cell_output img"):
            out.append((doc, img.find_parent("figure")))
    return out


def test_figures_are_captioned(built_site):
    figures = _figures(built_site)
    assert figures, "the book has no figures"
    for doc, fig in figures:
        assert fig is not None, f"{doc}: a figure without caption (set cell metadata mystnb.figure.caption/name)"
        assert fig.get("id", "").startswith("fig-"), f"{doc}: figure without a fig- name"
        assert fig.select_one("figcaption .caption-number"), f"{doc}: figure {fig.get('id')} is not numbered"


def test_figures_are_referenced(built_site):
    """Every figure is cited from the prose ({numref}`fig-...`), not only shown."""
    refs: set[str] = set()
    for doc in built_site.toc_docs():
        for a in built_site.soup(doc).select("a.reference[href*='#']"):
            if "headerlink" not in a.get("class", []):  # a figure's own "#" link is no reference
                refs.add(a["href"].split("#", 1)[1])
    unreferenced = [f"{doc}: {fig.get('id')}" for doc, fig in _figures(built_site) if fig is not None and fig.get("id") not in refs]
    assert not unreferenced, "figures never referenced with {numref}:\n" + "\n".join(unreferenced)


def test_notebook_pages_have_buttons_and_hidden_setup(built_site):
    for doc in built_site.notebook_docs():
        soup = built_site.soup(doc)
        name = doc.split("/")[-1]
        downloads = [a["href"] for a in soup.select("a.btn-download-source-button")]
        assert any(h.endswith(f"{name}.ipynb") for h in downloads), f"{doc}: no .ipynb download"
        launch = [a["href"] for a in soup.select("a[href^='https://mybinder.org']")]
        assert any(f"urlpath=lab/tree/notebooks/{name}.ipynb" in h for h in launch), f"{doc}: no Binder button"
        hidden = soup.select("div.cell.tag_hide-cell")
        assert hidden, f"{doc}: no hidden setup cell"
        for cell in hidden:
            details = cell.find("details")
            assert details is not None and not details.has_attr("open"), f"{doc}: hide-cell not collapsed"


def test_bibliography_is_built_from_references_bib(built_site):
    soup = built_site.soup("book/bibliography")
    entries = soup.select("div.citation, dl.citation > dt")
    bib_keys = re.findall(r"@\w+\{([^,\s]+),", (built_site.root / "book" / "references.bib").read_text())
    assert entries and bib_keys
    assert len(entries) <= len(bib_keys)
    intro_cites = soup.get_text()
    assert "Marconato" in intro_cites
