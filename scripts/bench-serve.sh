#!/bin/sh
# Load figures for `snakebox serve` (BENCHMARKS.md, section "Serving").
# Loopback only; every run is bounded in requests and in time.
set -eu
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
# A release build by default; PROFILE=dev measures a debug build instead.
PROFILE=${PROFILE:-release}
cargo build --profile "$PROFILE" -p snakebox-cli --bin snakebox --example serve_load >&2
OUT="$TARGET/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"
# SNAKEBOX=path measures another build of the server (an earlier commit's,
# say) with the same load generator.
SNAKEBOX=${SNAKEBOX:-$OUT/snakebox}
LOAD="$OUT/examples/serve_load"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$SNAKEBOX" build tests/fixtures/hostile.py -o "$WORK/app.wasm" 2>/dev/null

HOSTILE="--hostile spin=[] --hostile memory_bomb=[] --hostile recurse=[0] --hostile read_file=[\"/etc/passwd\"] --hostile big_result=[100] --hostile-percent 1"

serve() {
    "$SNAKEBOX" serve "$WORK/app.wasm" --listen 127.0.0.1:0 --workers "$1" \
        --timeout 500ms --memory 256MiB >"$WORK/out" 2>"$WORK/log" &
    SERVER=$!
    for _ in $(seq 300); do
        grep -q listening "$WORK/out" 2>/dev/null && break
        sleep 0.1
    done
    ADDRESS=$(sed -n 's#listening on http://##p' "$WORK/out")
}

# The healthy rate of a report line ("healthy … = N req/s") or its only rate.
rate() {
    sed -n 's/.*healthy [^=]*= \([0-9]*\) req\/s.*/\1/p'
}

echo "# $(uname -m), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
for workers in ${WORKERS:-1 2}; do
    serve "$workers"
    echo "## workers=$workers"
    CLEAN=$("$LOAD" --address "$ADDRESS" --function add --body '[2, 40]' --concurrency 16 --requests 20000 --seconds 30)
    echo "sync add:                   $CLEAN"
    echo "async sleep 50 ms:          $("$LOAD" --address "$ADDRESS" --function slow_add --body '[2, 40, 0.05]' --concurrency 64 --requests 4000 --seconds 30)"
    # As many requests as the clean run: a shorter run ends before most
    # hostile requests do (each may take the whole 500 ms limit), and
    # leaves their cost uncounted.
    # shellcheck disable=SC2086
    MIXED=$("$LOAD" --address "$ADDRESS" --function add --body '[2, 40]' --concurrency 16 --requests 20000 --seconds 30 $HOSTILE)
    echo "sync add + 1% hostile:      $MIXED"
    echo "healthy beside 1% hostile ÷ clean: $(echo "$MIXED" | rate) ÷ $(echo "$CLEAN" | rate) req/s = $(awk -v a="$(echo "$MIXED" | rate)" -v b="$(echo "$CLEAN" | rate)" 'BEGIN { printf "%.1f %%", 100 * a / b }')"
    # shellcheck disable=SC2086
    echo "async sleep + 1% hostile:   $("$LOAD" --address "$ADDRESS" --function slow_add --body '[2, 40, 0.05]' --concurrency 64 --requests 4000 --seconds 30 $HOSTILE)"
    kill -TERM "$SERVER"
    wait "$SERVER" || true
done
