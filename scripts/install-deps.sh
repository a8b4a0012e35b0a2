#!/usr/bin/env bash
# Installs what building and testing snakebox needs beyond Rust itself.
# componentize-py (pinned) is provisioned by snakebox on first use; this
# script checks that the Python it needs is there.
set -euo pipefail

need_python() {
  if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
    echo "installing python3 and pip (Debian packages)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip >/dev/null
  fi
}

# The benchmark (bench/) embeds CPython through PyO3, which links libpython.
need_python_dev() {
  if ! command -v python3-config >/dev/null; then
    echo "installing python3-dev (Debian package, for the benchmark's PyO3 peer)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-dev >/dev/null
  fi
}

need_python
need_python_dev
python3 --version >&2
