"""The GitHub Pages workflow builds with the README command and publishes _build/html."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"


def _workflow() -> dict:
    wf = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(wf, dict) and "jobs" in wf
    return wf


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _uses(step: dict) -> str:
    return step.get("uses", "").split("@")[0]


def test_readme_build_command_is_make_book():
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^make book\b", readme, re.M)
    makefile = (ROOT / "Makefile").read_text()
    book = re.search(r"^book:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert book and "jupyter-book build" in book.group(1)


def test_workflow_triggers_and_permissions():
    wf = _workflow()
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as True
    assert "main" in on["push"]["branches"]
    assert "workflow_dispatch" in on
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"


def test_build_job_runs_make_book_and_uploads_the_site():
    jobs = _workflow()["jobs"]
    build = jobs["build"]
    steps = _steps(build)
    uses = [_uses(s) for s in steps]
    assert uses[0] == "actions/checkout"
    python = next(s for s in steps if _uses(s) == "actions/setup-python")
    assert str(python["with"]["python-version"]) == "3.11"
    assert "actions/setup-node" in uses
    runs = [s for s in steps if "run" in s]
    make_book = [i for i, s in enumerate(steps) if "run" in s and s["run"].strip() == "make book"]
    assert len(make_book) == 1, f"exactly one step must run `make book`: {[s['run'] for s in runs]}"
    upload = [i for i, s in enumerate(steps) if _uses(s) == "actions/upload-pages-artifact"]
    assert len(upload) == 1 and upload[0] > make_book[0]
    assert steps[upload[0]]["with"]["path"] == "_build/html"
    assert "download.pytorch.org/whl/cpu" in build["env"]["PIP_EXTRA_INDEX_URL"], "CPU-only torch"


def test_deploy_job_publishes_the_artifact():
    jobs = _workflow()["jobs"]
    deploy = next(j for j in jobs.values() if any(_uses(s) == "actions/deploy-pages" for s in _steps(j)))
    assert deploy["needs"] == "build" or "build" in deploy["needs"]
    assert deploy["environment"]["name"] == "github-pages"
