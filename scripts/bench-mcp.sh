#!/usr/bin/env bash
# MCP tool calls per second, over stdio and over streamable HTTP, beside
# `snakebox serve`'s REST requests per second, for one function (`add` of
# examples/async_demo.py), one client each, in one run
# (bench/python/mcp_rate.py). Usage: scripts/bench-mcp.sh [CALLS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."

export SNAKEBOX_CACHE_DIR="${SNAKEBOX_CACHE_DIR:-$PWD/target/snakebox-cache}"
work=target/bench-mcp
mkdir -p "$work"
sdk="$work/mcp-sdk-2.3.0"
if [ ! -f "$sdk/.installed" ]; then
    python3 -m pip install --quiet --target "$sdk" "mcp==2.3.0"
    touch "$sdk/.installed"
fi
cargo build --release -p snakebox-cli
snakebox="$PWD/target/release/snakebox"
"$snakebox" build examples/async_demo.py -o "$work/app.wasm"
"$snakebox" precompile "$work/app.wasm" 2>/dev/null

"$snakebox" serve "$work/app.wasm" --listen 127.0.0.1:0 --workers 1 >"$work/serve.out" 2>"$work/serve.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q "listening on" "$work/serve.out" 2>/dev/null && break
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/serve.out")

echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
MCP_SERVER="[\"$snakebox\", \"mcp\", \"$work/app.wasm\", \"--workers\", \"1\"]" \
MCP_URL="$url/mcp" SERVE_URL="$url" PYTHONPATH="$sdk" \
    python3 bench/python/mcp_rate.py "${1:-500}" "${2:-5}" 2>"$work/client.log"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
