#!/usr/bin/env bash
# From a fresh clone on Debian 12: the bundle (dist/mcp-connectors/) and the .deb (dist/*.deb) in one command.
#   bash packaging/build.sh [--check-reproducible | --bundle-only]
# As root it first installs the build's system packages; then the virtual environment tests/setup-and-run.sh uses
# (.venv, with the packaging extra: PyInstaller, pinned); then packaging/build.py, which works offline from there.
set -euo pipefail
cd "$(dirname "$0")/.."

# dpkg-shlibdeps (dpkg-dev), patchelf (the bundle's library paths), lintian (the package's check).
build_packages=(dpkg-dev patchelf lintian)
missing=()
for package in "${build_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "Missing system packages: ${missing[*]}. As root: apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[packaging]"
exec .venv/bin/python packaging/build.py "$@"
