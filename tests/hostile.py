"""Loading files in a child process with time and memory limits.

A crash or a hang of ``MLP.load`` on a hostile file must fail a test, not the
suite: :func:`load_in_child` loads each file in one fresh interpreter, under
``RLIMIT_AS`` and a timeout, and reports per file what happened, how long it
took, how much the process's peak resident size grew, and (from a second,
traced load) tracemalloc's peak.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, resource, sys, time, tracemalloc
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import numpy as np
from agnostic_mlp import MLP, ModelFileError

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def load(path):
    try:
        return MLP.load(path), {"outcome": "loaded"}
    except (ModelFileError, ValueError, TypeError) as exc:
        return None, {"outcome": type(exc).__name__, "message": str(exc)[:300]}

results = []
for path in sys.argv[2:]:
    before = rss()
    start = time.perf_counter()
    model, out = load(path)
    out["seconds"] = time.perf_counter() - start
    out["rss_growth"] = rss() - before
    del model
    tracemalloc.start()  # a second load, traced: tracing slows what it watches
    model, _ = load(path)
    out["peak"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    if model is not None:
        params = [np.asarray(p) for p in model.parameters()]
        out["shapes"] = [list(p.shape) for p in params]
        out["finite"] = bool(all(np.isfinite(p).all() for p in params))
    results.append(out)
    print(json.dumps(results[-1]), flush=True)
"""


def load_in_child(paths: list[Path], *, memory: int = 2 * 2**30,
                  timeout: float = 120.0) -> list[dict[str, Any]]:
    """Load each of ``paths`` in one child; return one result per path, in order.

    Raises
    ------
    AssertionError
        If the child crashed, hung past ``timeout`` or reported fewer results.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), os.environ.get("PYTHONPATH", "")]), "OPENBLAS_NUM_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, str(memory), *map(str, paths)],
                              capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"loading hung for {timeout} s: {exc.stdout!r}") from None
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0 and len(results) == len(paths), (
        f"the loader died (status {done.returncode}) after {len(results)} of {len(paths)} "
        f"files: {done.stderr[-2000:]}")
    return results
