#!/usr/bin/env bash
# The packaging check: the three crates (the generator, the library, the
# command) packaged and built from their packages alone, as `cargo publish
# --dry-run` would. Packaged together, cargo resolves each one's dependency
# on the unpublished others locally.
# After a build of the workspace it takes about three minutes on two cores;
# CI runs it after the tests. tests/e2e/packaging.rs checks the same
# files without building.
set -euo pipefail
cd "$(dirname "$0")/.."
# cargo unpacks the packaged generator from its temporary local registry
# into $CARGO_HOME/registry/src/-HASH/ and never unpacks it again while that
# folder exists, so a second run would verify against the first run's
# sources. Drop those stale copies (only snakebox's, only local registries).
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/snakebox-*
# Their compiled forms are fingerprinted by version alone, as a registry
# crate's is: forget them too, so that they are built from the sources
# just packaged.
rm -rf "${CARGO_TARGET_DIR:-target}"/debug/.fingerprint/snakebox-*
cargo package -p snakebox-generator -p snakebox -p snakebox-cli "$@"
