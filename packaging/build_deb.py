"""The Debian package, from the one-folder bundle: ``python packaging/build_deb.py [BUNDLE]`` (packaging/build.py
calls :func:`build_deb` after building the bundle).

What the package holds:

- ``/opt/mcp-connector-manager/``: the bundle as built (``mcp-connectors`` and ``_internal/``);
- ``/usr/bin/mcp-connectors``: a link to it (absolute, as Debian policy §10.5 wants across top-level folders);
- the menu entry, the AppStream metainfo and the hicolor icons, staged by ``packaging/linux/stage.py DEST --exec
  /usr/bin/mcp-connectors`` with DEST = ``<root>/usr``;
- ``/usr/share/doc/mcp-connector-manager/``: ``copyright`` (machine-readable, packaging/deb/copyright) and
  ``changelog.gz``; ``/usr/share/man/man1/mcp-connectors.1.gz``; lintian's overrides (packaging/deb/lintian-overrides,
  each one explained there).

``Depends:`` is what the bundle's ELF files link and the bundle does not carry, computed by ``dpkg-shlibdeps`` (the
xcb libraries of Qt's platform plugin, GTK for its theme, libc ...); ``Recommends: gnome-keyring`` (a Secret
Service to keep tokens in). No maintainer scripts: dpkg's triggers refresh the menu and icon caches. Built with
``dpkg-deb --root-owner-group``; then ``lintian`` runs, and an error from it fails the build.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's identity (run as a script: sys.path[0] is packaging/)

from desktop_app.appinfo import APP_NAME, COMMAND, VERSION  # noqa: E402

PACKAGE = "mcp-connector-manager"
INSTALL_DIR = Path("opt") / PACKAGE
DEB = ROOT / "packaging" / "deb"
STAGE_SCRIPT = ROOT / "packaging" / "linux" / "stage.py"
#: Who the package names as its maintainer: a placeholder a publisher replaces (as the client metadata document's
#: host in packaging/client-metadata.json), or DEBFULLNAME/DEBEMAIL from the environment.
DEFAULT_MAINTAINER = "MCP Connector Manager maintainers <maintainers@mcp-connectors.example.org>"
RECOMMENDS = "gnome-keyring"


class PackageError(Exception):
    """The package cannot be built; the message says why and what to do."""


def source_date_epoch() -> int:
    """The time files get in the package and the bundle's build: ``SOURCE_DATE_EPOCH`` (reproducible builds), else
    the commit's time, else now (outside git)."""
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"])
    shown = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"], capture_output=True, text=True)
    return int(shown.stdout) if shown.returncode == 0 and shown.stdout.strip().isdigit() else int(time.time())


def need(program: str, package: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise PackageError(f"{program} is missing: as root, apt-get install --no-install-recommends {package}")
    return found


def run(command: list[str], **options: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **options)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise PackageError(f"{command[0]} failed ({result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}")
    return result  # type: ignore[no-any-return]


def maintainer() -> str:
    name, email = os.environ.get("DEBFULLNAME"), os.environ.get("DEBEMAIL")
    return f"{name} <{email}>" if name and email else DEFAULT_MAINTAINER


def is_elf(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4) == b"\x7fELF"


def stage_bundle(bundle: Path, root: Path) -> Path:
    """Copy the bundle to /opt; files 0644, folders and the executable 0755 (shared libraries need no x bit)."""
    target = root / INSTALL_DIR
    shutil.copytree(bundle, target, symlinks=True)
    for path in [target, *target.rglob("*")]:
        if path.is_symlink():
            continue
        path.chmod(0o755 if path.is_dir() or path == target / COMMAND else 0o644)
    link = root / "usr" / "bin" / COMMAND
    link.parent.mkdir(parents=True)
    link.symlink_to(Path("/") / INSTALL_DIR / COMMAND)
    return target


def stage_desktop_files(root: Path, *, wanted: bool) -> None:
    if not wanted:
        print("warning: no menu entry, icons or metainfo in this package (--no-desktop-files)", file=sys.stderr)
        return
    if not STAGE_SCRIPT.is_file():
        raise PackageError(
            f"{STAGE_SCRIPT.relative_to(ROOT)} is missing (the desktop files' stager); "
            "build with --no-desktop-files to package without them"
        )
    run([sys.executable, str(STAGE_SCRIPT), str(root / "usr"), "--exec", f"/usr/bin/{COMMAND}"], cwd=ROOT)


def stage_docs(root: Path, bundle: Path, date: str) -> None:
    docs = root / "usr" / "share" / "doc" / PACKAGE
    docs.mkdir(parents=True)
    shutil.copyfile(DEB / "copyright", docs / "copyright")
    changelog = (
        f"{PACKAGE} ({VERSION}) unstable; urgency=medium\n\n"
        f"  * {APP_NAME} {VERSION} as a self-contained bundle.\n\n"
        f" -- {maintainer()}  {date}\n"
    )
    write_gzip(docs / "changelog.gz", changelog.encode())
    manual = root / "usr" / "share" / "man" / "man1" / f"{COMMAND}.1.gz"
    manual.parent.mkdir(parents=True)
    help_text = run([str(bundle / COMMAND), "--help"], env={**os.environ, "COLUMNS": "80"}).stdout
    write_gzip(manual, manual_page(help_text, date).encode())
    overrides = root / "usr" / "share" / "lintian" / "overrides" / PACKAGE
    overrides.parent.mkdir(parents=True)
    shutil.copyfile(DEB / "lintian-overrides", overrides)  # its comments are lintian's justifications


def write_gzip(path: Path, data: bytes) -> None:
    """gzip -9n: no name or time in the header, so the same text gives the same bytes."""
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as out:
        out.write(data)


def manual_page(help_text: str, date: str) -> str:
    """A man page from the program's own ``--help`` (one source for both)."""
    escaped = [line.replace("\\", "\\e") for line in help_text.splitlines()]
    body = "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in escaped)
    day = " ".join(date.split()[1:4])
    return (
        f'.TH {COMMAND.upper()} 1 "{day}" "{COMMAND} {VERSION}" "User Commands"\n'
        f".SH NAME\n{COMMAND} \\- {APP_NAME}: connect AI tools to OAuth-protected MCP servers\n"
        f".SH SYNOPSIS\n.B {COMMAND}\n[\\fB\\-\\-hidden\\fR]\n.br\n.B {COMMAND}\n\\fICOMMAND\\fR ...\n"
        ".SH DESCRIPTION\nWithout a command it opens the window (\\fB\\-\\-hidden\\fR: in the tray only); "
        "with one it runs the command line. Its own help follows.\n"
        f".PP\n.nf\n{body}\n.fi\n"
    )


def depends(root: Path, bundle_root: Path) -> str:
    """``dpkg-shlibdeps`` over every ELF file of the bundle, the bundle's own folders as private library paths.
    ``root`` is ``<scratch>/debian/<package>`` with its DEBIAN folder: where dpkg-shlibdeps expects a package being
    built (it then knows the bundle's libraries are the package's own)."""
    need("dpkg-shlibdeps", "dpkg-dev")
    scratch = root.parent.parent
    elves = sorted(p for p in bundle_root.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p))
    private = sorted({p.parent.relative_to(scratch) for p in elves if ".so" in p.name})
    (scratch / "debian" / "control").write_text(f"Source: {PACKAGE}\n\nPackage: {PACKAGE}\nArchitecture: any\n")
    command = ["dpkg-shlibdeps", "-O", "--warnings=0", *(f"-l{folder}" for folder in private)]
    command += [f"-e{p.relative_to(scratch)}" for p in elves]
    shown = run(command, cwd=scratch).stdout
    match = re.search(r"^shlibs:Depends=(.*)$", shown, re.MULTILINE)
    if match is None:
        raise PackageError(f"dpkg-shlibdeps gave no dependencies:\n{shown}")
    return match.group(1).strip()


def write_control(root: Path, depends_on: str) -> None:
    architecture = run([need("dpkg", "dpkg"), "--print-architecture"]).stdout.strip()
    installed_kib = sum(
        (p.stat().st_size + 1023) // 1024 for p in root.rglob("*") if p.is_file() and not p.is_symlink()
    )
    template = (DEB / "control.in").read_text()
    control = template.format(
        package=PACKAGE,
        version=VERSION,
        architecture=architecture,
        maintainer=maintainer(),
        installed_size=installed_kib,
        depends=depends_on,
        recommends=RECOMMENDS,
    )
    meta = root / "DEBIAN"
    (meta / "control").write_text(control)
    sums = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and meta not in path.parents:
            sums.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {path.relative_to(root).as_posix()}")  # noqa: S324 - dpkg's format
    (meta / "md5sums").write_text("\n".join(sums) + "\n")
    for path in meta.iterdir():
        path.chmod(0o644)


def clamp_times(root: Path, epoch: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.utime(path, (epoch, epoch), follow_symlinks=False)


def lint(package: Path, out: Path) -> str:
    """lintian's verdict, written to ``out``; a PackageError when it found an error."""
    need("lintian", "lintian")
    result = subprocess.run(
        ["lintian", "--info", "--display-info", "--show-overrides", str(package)],
        capture_output=True,
        text=True,
        check=False,
    )
    text = result.stdout + result.stderr
    out.write_text(text)
    counts = {kind: len(re.findall(rf"^{kind}: ", text, re.MULTILINE)) for kind in ("E", "W", "I", "O")}
    summary = f"lintian: {counts['E']} errors, {counts['W']} warnings, {counts['I']} notes, {counts['O']} overridden"
    if counts["E"] or result.returncode not in (0, 2):
        raise PackageError(f"{summary} (all in {out}):\n{text[-3000:]}")
    return summary


def build_deb(bundle: Path, out_dir: Path, *, desktop_files: bool = True, level: int = 6) -> Path:
    """Build ``out_dir/<package>_<version>_<arch>.deb`` from the bundle folder; return its path. ``level``: xz's
    compression level (dpkg-deb's default, 6, for a release; 0 is several times faster, for CI: same contents)."""
    dpkg_deb = need("dpkg-deb", "dpkg")
    epoch = int(
        os.environ.get("SOURCE_DATE_EPOCH") or run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"]).stdout
    )
    date = formatdate(epoch, usegmt=False, localtime=False).replace("-0000", "+0000")
    with tempfile.TemporaryDirectory(prefix="deb-") as scratch:
        root = Path(scratch) / "debian" / PACKAGE
        (root / "DEBIAN").mkdir(mode=0o755, parents=True)
        bundle_root = stage_bundle(bundle, root)
        stage_desktop_files(root, wanted=desktop_files)
        stage_docs(root, bundle, date)
        write_control(root, depends(root, bundle_root))
        clamp_times(root, epoch)
        architecture = (root / "DEBIAN" / "control").read_text().split("Architecture: ")[1].split()[0]
        package = out_dir / f"{PACKAGE}_{VERSION}_{architecture}.deb"
        package.unlink(missing_ok=True)
        run(
            [dpkg_deb, "--root-owner-group", "-Zxz", f"-z{level}", "--build", str(root), str(package)],
            env={**os.environ, "SOURCE_DATE_EPOCH": str(epoch)},
        )
    print(lint(package, out_dir / "lintian.txt"))
    return package


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", type=Path, default=ROOT / "dist" / COMMAND)
    parser.add_argument("--no-desktop-files", action="store_true", help="without the menu entry, icons, metainfo")
    args = parser.parse_args(argv)
    try:
        package = build_deb(args.bundle.resolve(), ROOT / "dist", desktop_files=not args.no_desktop_files)
    except PackageError as exc:
        print(f"package failed: {exc}", file=sys.stderr)
        return 1
    print(f"package: {package} — {package.stat().st_size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
