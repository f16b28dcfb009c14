"""An interpreter that sees what a person's install of the app has: the runtime dependencies, nothing else.

The benchmarks run in the development venv, which also holds the test extra (pytest, the lab's server stack, ``rich``,
``click`` …) and an editable install of the app. Both change a start-up: ``httpx`` imports its command line
(``httpx._main``, with ``rich`` and ``click``) whenever those two are importable, and the editable install's path
finder runs at every interpreter start. A person's ``pipx install`` (or the bundle) has neither.

:func:`user_python` makes a venv without pip whose ``site-packages`` holds symbolic links to exactly the
distributions the app requires at run time (the closure of its ``Requires-Dist`` without extras, markers evaluated
here), taken from the development venv, so the versions are the same ones. The app itself comes from the repository
(``PYTHONPATH``, as :func:`benchmarks.lab_env.child_env` sets it), as it does for every benchmark.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

APP_DISTRIBUTION = "mcp-connector-manager"


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(root: str = APP_DISTRIBUTION) -> list[metadata.Distribution]:
    """The distributions ``root`` needs at run time (itself excluded), each once."""
    found: dict[str, metadata.Distribution] = {}
    pending = [root]
    while pending:
        name = pending.pop()
        dist = metadata.distribution(name)
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            key = _key(requirement.name)
            if key not in found and key != _key(root):
                found[key] = metadata.distribution(requirement.name)
                pending.append(requirement.name)
    return list(found.values())


def _top_level_entries(dist: metadata.Distribution, site: Path) -> set[str]:
    """The names directly in ``site-packages`` that ``dist`` installed (packages, modules, its ``.dist-info``)."""
    entries = set()
    for file in dist.files or []:
        parts = Path(file).parts
        if parts and parts[0] != ".." and (site / parts[0]).exists():
            entries.add(parts[0])
    return entries


def user_python(where: Path) -> Path:
    """A venv in ``where`` that imports only the app's runtime dependencies; returns its ``python``."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    site = next((where / "lib").glob("python*/site-packages"))
    for dist in runtime_closure():
        source = Path(str(dist.locate_file(""))).resolve()
        for entry in _top_level_entries(dist, source):
            link = site / entry
            if not link.exists():
                link.symlink_to(source / entry)
    return where / "bin" / "python"
