#!/usr/bin/env python3
"""Times a whole `snakebox call APP.wasm add 1 2` process, median of 15 runs.

Two paths: the same file again (found by its identity, path + size + mtime),
and a fresh copy each run (read and hashed, as every load did before).
Usage: scripts/bench-load.py [SNAKEBOX_BINARY] [APP.wasm]
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/snakebox"
app = sys.argv[2] if len(sys.argv) > 2 else None
if app is None:
    app = os.path.join(tempfile.mkdtemp(), "demo.wasm")
    subprocess.run([binary, "build", "examples/async_demo.py", "-o", app], check=True)


def timed(path: str) -> float:
    started = time.perf_counter()
    subprocess.run([binary, "call", path, "add", "1", "2"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


timed(app)  # compile once, so both paths find the compiled component
same = statistics.median(timed(app) for _ in range(15))
fresh = []
for i in range(15):
    copy = f"{app}.{i}.wasm"
    shutil.copy(app, copy)
    fresh.append(timed(copy))
    os.remove(copy)
print(f"same file (identity): {same * 1000:.1f} ms")
print(f"fresh copy (hashed):  {statistics.median(fresh) * 1000:.1f} ms")
