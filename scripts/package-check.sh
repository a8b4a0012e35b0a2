#!/usr/bin/env bash
# The packaging check: both crates packaged and built from their packages
# alone, as `cargo publish --dry-run` would. Packaged together, cargo
# resolves snakebox's dependency on the unpublished generator locally.
# After a build of the workspace it takes about three minutes on two cores;
# CI runs it after the tests. tests/e2e/packaging.rs checks the same
# files without building.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo package -p snakebox-generator -p snakebox "$@"
