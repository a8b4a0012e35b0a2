#!/bin/sh
# Runs a module built with `snakebox build --http` on the real `wasmtime
# serve` (wasmtime-cli 48.0.8: `cargo install wasmtime-cli --version 48.0.8
# --locked`), shows one request of each kind, then measures `add` there next
# to `snakebox serve` in the same run. Loopback only; every load is bounded.
# WASMTIME names the wasmtime binary (default: the one on PATH).
set -eu
cd "$(dirname "$0")/.."
WASMTIME=${WASMTIME:-wasmtime}
TARGET=${CARGO_TARGET_DIR:-target}
# A release build by default; PROFILE=dev uses a debug build instead.
PROFILE=${PROFILE:-release}
cargo build --profile "$PROFILE" -p snakebox-cli --bin snakebox --example serve_load >&2
OUT="$TARGET/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"
SNAKEBOX="$OUT/snakebox"
LOAD="$OUT/examples/serve_load"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
"$SNAKEBOX" build tests/fixtures/hostile.py -o "$WORK/app.wasm" 2>/dev/null
"$SNAKEBOX" build --http tests/fixtures/hostile.py -o "$WORK/app-http.wasm" 2>/dev/null
"$WASMTIME" --version

"$WASMTIME" serve --addr 127.0.0.1:8123 -Scli "$WORK/app-http.wasm" >"$WORK/wasmtime.log" 2>&1 &
# Compiling the component takes seconds, more on a busy machine.
for _ in $(seq 1200); do
    grep -q Serving "$WORK/wasmtime.log" 2>/dev/null && break
    sleep 0.1
done
echo "\$ wasmtime serve --addr 127.0.0.1:8123 -Scli app-http.wasm"
show() {
    echo "\$ curl -X $1 http://127.0.0.1:8123$2 ${3:+-d '$3'}"
    curl -s -X "$1" "http://127.0.0.1:8123$2" ${3:+-H 'content-type: application/json' -d "$3"} -w "   (HTTP %{http_code}, %{time_total}s)\n"
}
show POST /call/add '[2, 40]'
show POST /call/slow_add '[2, 40, 0.25]'
show POST /call/add '["two", 40]'
show POST /call/no_such '[]'
show POST /call/add '[2,'
show GET /healthz
echo
echo "## add on wasmtime serve (a fresh instance per request)"
"$LOAD" --address 127.0.0.1:8123 --function add --body '[2, 40]' --concurrency 16 --requests 5000 --seconds 30
kill %1

"$SNAKEBOX" serve "$WORK/app.wasm" --listen 127.0.0.1:0 --workers 2 >"$WORK/out" 2>"$WORK/log" &
for _ in $(seq 1200); do
    grep -q listening "$WORK/out" 2>/dev/null && break
    sleep 0.1
done
ADDRESS=$(sed -n 's#listening on http://##p' "$WORK/out")
echo "## add on snakebox serve --workers 2"
"$LOAD" --address "$ADDRESS" --function add --body '[2, 40]' --concurrency 16 --requests 20000 --seconds 30
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
