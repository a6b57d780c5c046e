#!/usr/bin/env bash
# Debian packages the tests use, installed when missing:
# - `chromium` (/usr/bin/chromium) for the browser tests (tests/ui/test_browser.py),
#   driven by Python Playwright;
# - `bubblewrap` (/usr/bin/bwrap), which confines model children where Landlock is
#   missing (docs/isolation.md); tests/modelformats/test_confinement.py tests it.
# In CI (CI=true) a failed install is an error; elsewhere those tests then skip with
# a printed reason.
set -uo pipefail
LOG=/tmp/registry-system-packages.log
WANTED=()
[ -x /usr/bin/chromium ] || WANTED+=(chromium)
[ -x /usr/bin/bwrap ] || WANTED+=(bubblewrap)
if [ ${#WANTED[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  fi
fi

install() {
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${WANTED[@]}"
}

if command -v apt-get >/dev/null 2>&1; then
  echo "== installing ${WANTED[*]} for the tests"
  if ! install >"$LOG" 2>&1; then
    $SUDO apt-get update >>"$LOG" 2>&1
    install >>"$LOG" 2>&1
  fi
fi

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/bwrap ] || missing+=(bubblewrap)
if [ ${#missing[@]} -eq 0 ]; then
  echo "== installed: $(/usr/bin/chromium --version 2>/dev/null), $(/usr/bin/bwrap --version 2>/dev/null)"
  exit 0
fi
if [ "${CI:-}" = "true" ]; then
  echo "${missing[*]} could not be installed, and CI runs the tests that need them:" >&2
  tail -n 20 "$LOG" >&2 2>/dev/null || true
  exit 1
fi
echo "== ${missing[*]} not installed and could not be installed; the tests that need them will skip"
exit 0
