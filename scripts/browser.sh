#!/usr/bin/env bash
# Headless Chromium for the browser tests (tests/ui/test_browser.py): Debian's
# `chromium` package at /usr/bin/chromium, driven by Python Playwright.
# Installs it when missing. In CI (CI=true) a failed install is an error; elsewhere
# the browser tests then skip with a printed reason.
set -uo pipefail
CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  fi
fi

install() {
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
}

if command -v apt-get >/dev/null 2>&1; then
  echo "== installing chromium for the browser tests"
  if ! install >/tmp/registry-chromium-install.log 2>&1; then
    $SUDO apt-get update >>/tmp/registry-chromium-install.log 2>&1
    install >>/tmp/registry-chromium-install.log 2>&1
  fi
fi

if [ -x "$CHROMIUM" ]; then
  echo "== chromium installed: $("$CHROMIUM" --version 2>/dev/null)"
  exit 0
fi
if [ "${CI:-}" = "true" ]; then
  echo "chromium could not be installed, and CI runs the browser tests:" >&2
  tail -n 20 /tmp/registry-chromium-install.log >&2 2>/dev/null || true
  exit 1
fi
echo "== chromium is not installed and could not be installed; the browser tests will skip"
exit 0
