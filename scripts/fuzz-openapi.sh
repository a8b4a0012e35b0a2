#!/usr/bin/env bash
# Fuzzes `snakebox serve` against its own OpenAPI document with schemathesis,
# every check, a random seed and more examples than the test suite's fixed
# run (tests/e2e/openapi_tools.rs). Not part of CI: a failure it finds is
# printed with a curl line and a seed that reproduces it.
#
# Usage: scripts/fuzz-openapi.sh [MODULE.py|APP.wasm] [MAX_EXAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."

app="${1:-tests/fixtures/contract.py}"
examples="${2:-300}"
tools="${SNAKEBOX_CACHE_DIR:-$PWD/target/snakebox-cache}/python-tools/schemathesis--4-32-5"
if [ ! -f "$tools/.installed" ]; then
  python3 -m pip install --quiet --target "$tools" schemathesis==4.32.5
  touch "$tools/.installed"
fi

cargo build --quiet -p snakebox-cli
address_file="$(mktemp)"
target/debug/snakebox serve "$app" --listen 127.0.0.1:0 --workers 2 >"$address_file" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$address_file"' EXIT
for _ in $(seq 600); do
  grep -q "listening on" "$address_file" && break
  sleep 0.5
done
base="$(sed -n 's/^listening on //p' "$address_file")"
[ -n "$base" ] || { echo "snakebox serve did not start" >&2; exit 1; }

seed="$RANDOM$RANDOM"
echo "fuzzing $base with seed $seed" >&2
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="tests/e2e:$tools" \
  python3 -m schemathesis.cli --config-file tests/e2e/schemathesis.toml \
  run "$base/openapi.json" --checks all --seed "$seed" --max-examples "$examples" --workers 2
