#!/usr/bin/env bash
# What bundling costs a component: its size, the time to compile it, and
# the time a new process takes to load it from the cache and make one call
# (median of 7). Each component gets a cache of its own.
#
#   scripts/bundle-cost.sh SNAKEBOX COMPONENT.wasm FUNCTION [ARG...]
set -euo pipefail
snakebox=$1 wasm=$2
shift 2
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
size=$(stat -c %s "$wasm")
compiled=$(SNAKEBOX_CACHE_DIR=$cache NO_COLOR=1 "$snakebox" precompile "$wasm" 2>&1 | sed -n 's/.*compiled in \(.*\)/\1/p')
runs=()
for _ in 1 2 3 4 5 6 7; do
  start=$(date +%s%N)
  SNAKEBOX_CACHE_DIR=$cache "$snakebox" call "$wasm" "$@" >/dev/null 2>&1
  runs+=($(( ($(date +%s%N) - start) / 1000000 )))
done
median=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 4p)
awk -v name="$(basename "$wasm")" -v size="$size" -v compiled="$compiled" -v median="$median" \
  'BEGIN { printf "%s: %.2f MB, compiled in %s, load + first call %s ms (median of 7)\n", name, size / 1e6, compiled, median }'
