#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/test_site.py, pytest marker `browser`).
# Run by `make test` and `make test-all` (not by `make setup` or `make book`: reading and building
# the book need no root). Idempotent: does nothing when Chromium is already there ($CHROMIUM, or
# `chromium` on PATH). Installing needs root or passwordless sudo; without them it stops with
# exactly what to install, and how to run every other test meanwhile.
set -euo pipefail

if [ -n "${CHROMIUM:-}" ] && [ -x "${CHROMIUM}" ]; then
    exit 0
fi
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    cat >&2 <<'MSG'
install_browser.sh: Chromium is not installed, and this user cannot install it (no root, no passwordless sudo).
  Only the browser tests (tests/test_site.py) need it; `make book` and every other test work without it.
  Install it (Debian 12), then rerun `make test`:
      sudo apt-get update && sudo apt-get install -y chromium
  or point CHROMIUM at another Chromium/Chrome binary:  make test CHROMIUM=/path/to/chromium
  or run every test but the browser tests:  .venv/bin/python -m pytest -m "not slow and not browser"
MSG
    exit 1
fi

"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
chromium --version
