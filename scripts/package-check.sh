#!/usr/bin/env bash
# The full packaging check: both crates packaged and built from their
# packages alone, as `cargo publish --dry-run` would. It compiles
# everything again (about ten minutes on two cores), so CI runs the quick
# form (`--no-verify`, plus tests/e2e/packaging.rs) and this stays a script.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo package -p snakebox-generator -p snakebox "$@"
