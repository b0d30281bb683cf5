#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the HTML report's render test.
# Idempotent: does nothing when /usr/bin/chromium already exists. Needs root (or sudo)
# and apt; prints one line and exits non-zero when it cannot install, so the caller
# (make test) can carry on and the render test skips with that reason.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: apt-get not found; install Chromium by hand (/usr/bin/chromium) to run the report render test" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install-chromium: not root and no passwordless sudo; run 'sudo apt-get install -y chromium' to enable the report render test" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-chromium: installing Debian's chromium package (one-off, for the report render test)" >&2
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null

if [ ! -x /usr/bin/chromium ]; then
    echo "install-chromium: apt-get finished but /usr/bin/chromium is missing" >&2
    exit 1
fi
echo "install-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo chromium installed)" >&2
