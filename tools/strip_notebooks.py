"""Clear outputs and execution counts of notebooks and set the python3 kernelspec.

    python tools/strip_notebooks.py [--check] [NOTEBOOK ...]   (default: notebooks/*.ipynb)

With --check nothing is written; the exit code is 1 if any notebook has outputs.
"""

import json
import sys
from pathlib import Path

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def strip(path: Path, check: bool) -> bool:
    nb = json.loads(path.read_text())
    dirty = False
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            if cell.get("outputs") or cell.get("execution_count") is not None:
                dirty = True
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("execution", None)
    meta = nb.setdefault("metadata", {})
    for key in ("papermill", "widgets"):
        meta.pop(key, None)
    if meta.get("kernelspec") != KERNELSPEC:
        dirty = dirty or check is False
        meta["kernelspec"] = KERNELSPEC
    meta.setdefault("language_info", {"name": "python"})
    if not check:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return dirty


def main(argv):
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"] or sorted(Path("notebooks").glob("*.ipynb"))
    dirty = [p for p in paths if strip(p, check)]
    if check and dirty:
        print("notebooks with outputs:", *dirty, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
