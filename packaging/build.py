"""Build the one-folder bundle and the Debian package from this checkout, offline, with what the virtual
environment has (``pip install -e '.[packaging]'``; packaging/build.sh does that first from a fresh clone).

    python packaging/build.py                     the bundle (dist/mcp-connectors/) and the .deb (dist/*.deb)
    python packaging/build.py --bundle-only       the bundle alone
    python packaging/build.py --check-reproducible   also a second bundle in another folder: same file list?

Writes beside them ``dist/mcp-connectors.files`` (the bundle's file list, sorted: what two builds of one commit
must agree on) and ``dist/bundle-report.json`` (size, the Python distributions carried, what was left out). See
packaging/README.md and docs/decisions/0023-bundle-and-deb.md.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's identity (run as a script: sys.path[0] is packaging/)

from build_deb import PackageError, build_deb, source_date_epoch  # noqa: E402 - packaging/build_deb.py, beside this script

from desktop_app.appinfo import COMMAND  # noqa: E402

SPEC = ROOT / "packaging" / "pyinstaller" / "linux.spec"
COPYRIGHT = ROOT / "packaging" / "deb" / "copyright"
#: The app's own distribution (pyproject.toml's name).
DISTRIBUTION = "mcp-connector-manager"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"


class BuildError(Exception):
    """The build cannot go on; the message says why and what to do."""


def build_bundle(dist: Path, work: Path) -> Path:
    """Run PyInstaller on the Linux definition; the bundle's folder (``dist/mcp-connectors``)."""
    if importlib.util.find_spec("PyInstaller") is None:
        raise BuildError(f"PyInstaller is not installed in {sys.prefix}: run `pip install -e '.[packaging]'` first")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # this checkout's desktop_app, whatever the environment's editable install points at
        "PYTHONHASHSEED": "0",
        "SOURCE_DATE_EPOCH": str(source_date_epoch()),
    }
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN"]
    command += ["--distpath", str(dist), "--workpath", str(work), str(SPEC)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    (work / "pyinstaller.log").parent.mkdir(parents=True, exist_ok=True)
    (work / "pyinstaller.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        raise BuildError(f"PyInstaller failed (log: {work / 'pyinstaller.log'}):\n{result.stderr[-3000:]}")
    bundle = dist / COMMAND
    if not (bundle / COMMAND).is_file():
        raise BuildError(f"PyInstaller ended without {bundle / COMMAND}")
    drop_build_machine_runpaths(bundle)
    return bundle


def is_elf(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4) == b"\x7fELF"


def drop_build_machine_runpaths(bundle: Path) -> list[str]:
    """Remove the library search paths that name folders of the build machine (a pyenv Python's libpython and its
    extension modules carry ``RUNPATH /root/.pyenv/versions/…/lib``): on a user's machine that folder is someone
    else's, or another Python. Paths relative to the file (``$ORIGIN``, Qt's and PySide6's) stay. Returns the files
    changed, relative to the bundle."""
    patchelf = shutil.which("patchelf")
    if patchelf is None:
        raise BuildError("patchelf is missing: as root, apt-get install --no-install-recommends patchelf")
    changed = []
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink() or not path.is_file() or not is_elf(path):
            continue
        shown = subprocess.run([patchelf, "--print-rpath", str(path)], capture_output=True, text=True, check=False)
        entries = [entry for entry in shown.stdout.strip().split(":") if entry]
        kept = [entry for entry in entries if entry.startswith("$ORIGIN")]
        if shown.returncode != 0 or kept == entries:
            continue
        command = [patchelf, "--set-rpath", ":".join(kept)] if kept else [patchelf, "--remove-rpath"]
        subprocess.run([*command, str(path)], check=True)
        changed.append(path.relative_to(bundle).as_posix())
    return changed


def file_list(bundle: Path) -> list[str]:
    """Every file and link in the bundle, relative, sorted (a link as ``name -> target``)."""
    entries = []
    for path in sorted(bundle.rglob("*")):
        relative = path.relative_to(bundle).as_posix()
        if path.is_symlink():
            entries.append(f"{relative} -> {os.readlink(path)}")
        elif path.is_file():
            entries.append(relative)
    return entries


def content_digests(bundle: Path) -> dict[str, str]:
    return {
        path.relative_to(bundle).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(bundle.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def carried_distributions(work: Path) -> list[dict[str, str]]:
    """The Python distributions whose modules the bundle carries (from the top-level names the spec recorded),
    with their versions and licences as their metadata states them: the copyright file must cover each."""
    modules = json.loads((work / "linux" / "carried-modules.json").read_text(encoding="utf-8"))
    owners = importlib.metadata.packages_distributions()
    names = sorted({owner for module in modules for owner in owners.get(module, [])}, key=str.lower)
    found = []
    for name in names:
        metadata = importlib.metadata.metadata(name)
        expression = metadata.get_all("License-Expression") or []
        classifiers = [c.rsplit(" :: ", 1)[-1] for c in metadata.get_all("Classifier") or [] if c.startswith("License")]
        stated = [line for text in metadata.get_all("License") or [] for line in text.strip().splitlines()[:1]]
        licence = " ".join(expression) or " / ".join(classifiers) or (stated[0] if stated else "?")
        found.append({"name": metadata["Name"], "version": metadata["Version"], "license": licence})
    return found


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@dataclass(frozen=True, slots=True)
class BundleReport:
    bundle: str
    build_seconds: float
    bytes: int
    files: int
    distributions: list[dict[str, str]]
    left_out: list[str]

    def line(self) -> str:
        return (
            f"bundle: {self.bundle} — {self.bytes / 1e6:.0f} MB in {self.files} files, built in {self.build_seconds} s"
        )


def report_bundle(bundle: Path, work: Path, seconds: float) -> BundleReport:
    """Write the file list and the report beside the bundle."""
    files = file_list(bundle)
    (bundle.parent / f"{COMMAND}.files").write_text("\n".join(files) + "\n", encoding="utf-8")
    report = BundleReport(
        bundle=str(bundle),
        build_seconds=round(seconds, 1),
        bytes=size_of(bundle),
        files=len(files),
        distributions=carried_distributions(work),
        left_out=json.loads((work / "linux" / "left-out.json").read_text(encoding="utf-8")),
    )
    (bundle.parent / "bundle-report.json").write_text(json.dumps(asdict(report), indent=1) + "\n", encoding="utf-8")
    return report


def check_copyright(report: BundleReport) -> None:
    """Every Python distribution the bundle carries is named in the package's copyright file (the app's own
    distribution is its ``Files: *``): a new dependency cannot slip into the package without its licence."""
    text = COPYRIGHT.read_text(encoding="utf-8")
    missing = [
        f"{d['name']} ({d['license']})"
        for d in report.distributions
        if d["name"] != DISTRIBUTION and not re.search(rf"(?<![\w.-]){re.escape(d['name'])}(?![\w-])", text, re.I)
    ]
    if missing:
        raise BuildError(f"{COPYRIGHT.relative_to(ROOT)} does not name what the bundle carries: {', '.join(missing)}")


def check_reproducible(first: Path) -> str:
    """A second build of the same checkout into other folders: the same file list, or a BuildError naming the
    differences. Returns a line for the build's output (how many files also differ in content)."""
    other_dist, other_work = ROOT / "build" / "repro" / "dist", ROOT / "build" / "repro" / "work"
    shutil.rmtree(ROOT / "build" / "repro", ignore_errors=True)
    second = build_bundle(other_dist, other_work)
    a, b = file_list(first), file_list(second)
    if a != b:
        only_first, only_second = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        raise BuildError(
            f"two builds differ: only in the first {only_first[:10]}, only in the second {only_second[:10]}"
        )
    digests_a, digests_b = content_digests(first), content_digests(second)
    differing = sorted(name for name in digests_a if digests_a[name] != digests_b.get(name))
    shutil.rmtree(ROOT / "build" / "repro", ignore_errors=True)
    if not differing:
        return f"reproducible: a second build has the same {len(a)} files, identical byte for byte"
    shown = ", ".join(differing[:5]) + (" ..." if len(differing) > 5 else "")
    return f"reproducible: a second build has the same {len(a)} files; {len(differing)} differ in content ({shown})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle-only", action="store_true", help="build the bundle, not the .deb")
    parser.add_argument("--check-reproducible", action="store_true", help="build twice and compare the file lists")
    parser.add_argument(
        "--fast-compression",
        action="store_true",
        help="compress the .deb with xz level 0 instead of 6 (CI: the same files, a larger package, built faster)",
    )
    parser.add_argument(
        "--no-desktop-files",
        action="store_true",
        help="a .deb without the menu entry, icons and metainfo (only while packaging/linux/stage.py is missing)",
    )
    args = parser.parse_args(argv)
    try:
        started = time.monotonic()
        bundle = build_bundle(DIST, WORK)
        report = report_bundle(bundle, WORK, time.monotonic() - started)
        print(report.line())
        check_copyright(report)
        if args.check_reproducible:
            print(check_reproducible(bundle))
        if not args.bundle_only:
            level = 0 if args.fast_compression else 6
            package = build_deb(bundle, DIST, desktop_files=not args.no_desktop_files, level=level)
            print(f"package: {package} — {package.stat().st_size / 1e6:.0f} MB")
    except (BuildError, PackageError) as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
