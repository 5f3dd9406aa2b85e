"""Where one epoch of ``MLP.fit`` spends its time: cProfile's top functions.

Usage::

    python benchmarks/profile_fit.py [--workload medium-f32] [--backend numpy] [--top 15]
                                     [--repeats 3] [--threads N] [--by-function]

It warms up with one epoch, times the epoch and the floor (the matrix products
alone) alternately, then profiles one more epoch and prints the functions with
the most time spent in themselves (``tottime``). With ``--by-function`` it
instead times every call the model makes to its namespace (``matmul``,
``tanh``, ``sum``, ...) for one epoch; what is left (array operators such as
``*`` and ``-=``, and Python) is reported as one remainder.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import importlib.util
import io
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path
from statistics import median
from typing import Any

from contenders import make_agnostic, make_floor
from timing import timed
from workloads import WORKLOADS, make_data

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("agnostic_mlp") is None:  # run from a checkout, not installed
    sys.path.append(str(HERE.parent))


def profile_epoch(workload: str, backend: str, top: int, repeats: int = 3) -> str:
    """cProfile's report of one epoch of ``workload`` on ``backend``, sorted by tottime.

    Before it, the epoch and the floor's (NumPy's matrix products alone) are
    timed alternately ``repeats`` times; the header gives their medians.
    """
    w = WORKLOADS[workload]
    x, y = make_data(w, w.n_samples)
    steps = w.epoch_steps(w.n_samples)
    run = make_agnostic(backend, None)(w, x, y).run
    floor = make_floor("numpy")(w, x, y).run
    run(steps)
    floor(steps)
    fit_s, floor_s = [], []
    for _ in range(repeats):
        fit_s.append(timed(run, steps))
        floor_s.append(timed(floor, steps))
    ratios = sorted(a / b for a, b in zip(fit_s, floor_s, strict=True))
    profiler = cProfile.Profile()
    profiler.enable()
    run(steps)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    header = (
        f"{workload} on {backend}: one epoch ({steps} steps): fit {median(fit_s):.3f} s, "
        f"floor[numpy] {median(floor_s):.3f} s (medians of {repeats}); fit/floor per repeat: "
        f"{', '.join(f'{r:.2f}' for r in ratios)}\n"
        "NumPy's ufuncs (matmul, tanh, in-place operators) are not functions to cProfile: "
        "their time counts in the tottime of the Python function that calls them.\n"
    )
    return header + out.getvalue()


class _TimedNamespace:
    """An Array API namespace whose functions add their wall time to ``seconds``.

    ``settle(arrays)`` waits until the device has computed ``arrays``: called on
    a call's arguments before its clock starts and on its result before it
    stops, so that on an asynchronous backend (GPU, JAX) each call is charged
    its own time, and queued operator work goes to the remainder.
    """

    def __init__(self, xp: Any, settle: Any) -> None:
        self._xp, self._settle = xp, settle
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._xp, name)
        if isinstance(value, type) or not callable(value):  # dtypes, constants
            return value

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            self._settle(args)
            start = time.perf_counter()
            out = value(*args, **kwargs)
            self._settle(out)
            self.seconds[name] += time.perf_counter() - start
            self.calls[name] += 1
            return out

        return timed_call


def by_function(workload: str, backend: str) -> str:
    """The time one epoch of ``workload`` spends in each namespace function."""
    w = WORKLOADS[workload]
    x, y = make_data(w, w.n_samples)
    steps = w.epoch_steps(w.n_samples)
    runner = make_agnostic(backend, None)(w, x, y)
    runner.run(steps)
    plain = timed(runner.run, steps)  # without the waits the instrumented epoch adds
    model = runner.model

    def settle(out: Any) -> None:
        if backend == "jax":
            import jax

            jax.block_until_ready([a for a in jax.tree.leaves(out) if isinstance(a, jax.Array)])
        elif backend == "cupy":
            import cupy

            cupy.cuda.get_current_stream().synchronize()
        elif "cuda" in str(model.device):
            import torch

            torch.cuda.synchronize()

    spy = _TimedNamespace(model.runtime.xp, settle)
    model.runtime = dataclasses.replace(model.runtime, xp=spy)
    start = time.perf_counter()
    runner.run(steps)
    total = time.perf_counter() - start
    lines = [f"{workload} on {backend}: one epoch ({steps} steps), {plain:.3f} s "
             f"({plain / steps * 1e6:.1f} us per step); instrumented, {total:.3f} s "
             f"({total / steps * 1e6:.1f} us per step), shared out as:",
             f"{'function':<28}{'calls/step':>12}{'us/step':>10}{'share':>8}"]
    for name, sec in sorted(spy.seconds.items(), key=lambda kv: -kv[1]):
        lines.append(f"{name:<28}{spy.calls[name] / steps:>12.1f}"
                     f"{sec / steps * 1e6:>10.1f}{sec / total:>8.1%}")
    rest = total - sum(spy.seconds.values())
    lines.append(f"{'operators, Python, rest':<28}{'':>12}{rest / steps * 1e6:>10.1f}"
                 f"{rest / total:>8.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="medium-f32", choices=list(WORKLOADS))
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="cap BLAS and OpenMP threads (threadpoolctl), as run.py --threads")
    parser.add_argument("--by-function", action="store_true",
                        help="time each namespace function the model calls, for one epoch")
    args = parser.parse_args(argv)

    def report() -> str:
        if args.by_function:
            return by_function(args.workload, args.backend)
        return profile_epoch(args.workload, args.backend, args.top, args.repeats)

    if args.threads:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.threads):
            print(report())
    else:
        print(report())


if __name__ == "__main__":
    main()
