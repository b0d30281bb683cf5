#!/usr/bin/env bash
# Installs Debian's PostgreSQL server for the tests that run the journal on PostgreSQL.
# Idempotent: does nothing when initdb is already there. Needs root (or sudo) and apt;
# prints one line and exits non-zero when it cannot install. The tests do not skip
# without a server: they fail and say why (tests/pg_cluster.py).
set -euo pipefail

if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-postgresql: apt-get not found; install the PostgreSQL server (initdb, pg_ctl) by hand to run the PostgreSQL tests" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install-postgresql: not root and no passwordless sudo; run 'sudo apt-get install -y postgresql' to run the PostgreSQL tests" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-postgresql: installing Debian's postgresql package (one-off, for the PostgreSQL tests)" >&2
if ! $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
