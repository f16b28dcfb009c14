#!/usr/bin/env bash
# Installs everything the test suite needs, then runs all of it: lint, types, unit, integration against the lab.
# On a fresh Debian 12 machine run it as root so it can install the system packages it needs (apt).
# Extra arguments go to pytest (e.g. `bash tests/setup-and-run.sh -k loopback`).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

started=$(date +%s)
step() { printf '\n== %s (at %ds)\n' "$*" "$(( $(date +%s) - started ))"; }

# Bytecode is cached, as after any install (pip compiles what it installs): the suite starts hundreds of Python
# processes (the CLI, bridges, renewal workers), and an environment that sets PYTHONDONTWRITEBYTECODE would make each
# compile the app again, which times the crash tests' kills wrongly and slows the run by minutes.
unset PYTHONDONTWRITEBYTECODE

# 1. System packages: Chromium for the real-browser test; gnome-keyring (+ secret-tool, dbus-daemon) for the private
#    Secret Service every test runs against (tests/lab/secret_service.py); Xvfb (+ xauth and the two xcb libraries
#    Qt's xcb platform needs beyond this image) and trayer for the tray tests on a real display (tests/gui/test_tray.py).
#    The bundle and the .deb (packaging/build.py): dpkg-dev (dpkg-shlibdeps), patchelf, lintian; x11-utils (xwininfo)
#    for the bundle's smoke test on Xvfb.
system_packages=(chromium gnome-keyring libsecret-tools dbus-daemon xvfb xauth libxcb-icccm4 libxcb-keysyms1 trayer desktop-file-utils appstream dpkg-dev patchelf lintian x11-utils)
missing=()
for package in "${system_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    step "Installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing system packages: ${missing[*]}. Run this script as root to install them." >&2
    echo "Without gnome-keyring, libsecret-tools and dbus-daemon the whole suite fails (it needs a real Secret Service);" >&2
    echo "without chromium its real-browser test skips; without xvfb and trayer the tray test fails." >&2
  fi
fi

# 2. Python: the app and its test dependencies in a virtual environment.
step "Python environment (.venv)"
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,packaging]"

# 3. Node 22 and oidc-provider for the lab's authorization server (both from the npm registry).
step "Node lab (tests/lab/node)"
npm ci --prefix tests/lab/node --no-audit --no-fund --loglevel=error

# 4. Lint and types.
step "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
step "mypy --strict"
.venv/bin/mypy

# 5. The one-folder bundle and the .deb, lintian without errors (docs/decisions/0023; the .deb compressed fast: the
#    same files); tests/integration/test_bundle.py smoke-tests them and requires them from here on. Built once: that two
#    builds have the same files is `packaging/build.sh --check-reproducible`'s to show (packaging/README.md), kept out
#    of CI for its 15 minutes.
step "Bundle and .deb (packaging/build.py)"
.venv/bin/python packaging/build.py --fast-compression
export MCP_CONNECTORS_BUILD_REQUIRED=1

# 6. The suite. pytest's exit code 5 ("no tests collected") is a failure here, never a pass.
step "pytest"
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: failing." >&2
  exit 1
fi
exit "$status"
