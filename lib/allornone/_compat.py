"""Old module paths of the flat 0.1 layout, kept working.

Version 0.1 had every module at the top of the package (``allornone.model``,
``allornone.run``, ...). The modules now live in one folder per part of the
book (``theory``, ``origins``, ``reallm``, ``reruns``). :func:`install` adds a
finder that maps each old dotted name to its new module, so scripts written
against 0.1 (``import allornone.properties``, ``python -m allornone.run``) keep
working and get *the same module object*, not a copy.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types

#: old name (below ``allornone.``) -> new name (below ``allornone.``)
ALIASES = {
    "model": "theory.model",
    "subspaces": "theory.subspaces",
    "equivalence": "theory.equivalence",
    "linear": "theory.linear",
    "examples": "theory.examples",
    "properties": "theory.properties",
    "audit": "theory.audit",
    "latent": "origins.latent",
    "train": "origins.train",
    "metrics": "origins.metrics",
    "origins_runs": "origins.runs",
    "geometry": "reallm.geometry",
    "results": "reruns.results",
    "params": "reruns.params",
    "run": "reruns.run",
    "sweep": "reruns.sweep",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass

    def get_code(self, fullname):  # used by ``python -m allornone.<old name>``
        return importlib.util.find_spec(self.target).loader.get_code(self.target)


class _AliasSpec(importlib.machinery.ModuleSpec):
    """A spec under the old name whose ``parent`` is the new module's package.

    ``python -m allornone.origins_runs`` runs the code of ``origins/runs.py``
    with ``__package__ = spec.parent``; the real parent keeps its relative
    imports (``from ..reruns.results import ...``) working.
    """

    def __init__(self, name, loader, target_parent, **kwargs):
        super().__init__(name, loader, **kwargs)
        self._target_parent = target_parent

    @property
    def parent(self):
        return self._target_parent


class _AliasFinder(importlib.abc.MetaPathFinder):
    def __init__(self, package: str):
        self.prefix = package + "."

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(self.prefix):
            return None
        head, dot, tail = fullname[len(self.prefix):].partition(".")
        new = ALIASES.get(head)
        if new is None:
            return None
        target_name = self.prefix + new + dot + tail  # submodules of an old package name too
        real = importlib.util.find_spec(target_name)
        if real is None:
            return None
        spec = _AliasSpec(fullname, _AliasLoader(target_name), real.parent, origin=real.origin,
                          is_package=real.submodule_search_locations is not None)
        spec.submodule_search_locations = real.submodule_search_locations
        return spec


class _Package(types.ModuleType):
    """The package's module class: importing an old name never replaces a
    package attribute of the same name (``allornone.audit`` stays the function
    ``audit`` after ``import allornone.audit``)."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and name in ALIASES and name in self.__dict__.get("_LAZY", ()):
            getattr(self, name)  # a lazily imported attribute (``audit``): resolve it before deciding
        if (isinstance(value, types.ModuleType) and not isinstance(getattr(self, name, None), types.ModuleType)
                and name in ALIASES and name in self.__dict__):
            return
        super().__setattr__(name, value)


def install(package: str) -> None:
    """Put the alias finder on ``sys.meta_path`` once.

    An old name that is also an attribute of the package (``allornone.audit``
    is the function ``audit``) keeps the attribute: the package's module class
    refuses to replace it with the module (see :class:`_Package`). Nothing is
    put in ``sys.modules`` ahead of time, so ``python -m allornone.audit`` runs
    the new module's code without runpy's "found in sys.modules" warning.
    """
    if not any(isinstance(f, _AliasFinder) and f.prefix == package + "." for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder(package))
    pkg = sys.modules[package]
    if not isinstance(pkg, _Package):
        pkg.__class__ = _Package
