"""Where one epoch of ``MLP.fit`` spends its time: cProfile's top functions.

Usage::

    python benchmarks/profile_fit.py [--workload medium-f32] [--backend numpy] [--top 15]
                                     [--repeats 3] [--threads N]

It warms up with one epoch, times the epoch and the floor (the matrix products
alone) alternately, then profiles one more epoch and prints the functions with
the most time spent in themselves (``tottime``).
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import pstats
import sys
from pathlib import Path
from statistics import median

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


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="medium-f32", choices=list(WORKLOADS))
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="cap BLAS and OpenMP threads (threadpoolctl), as run.py --threads")
    args = parser.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.threads):
            print(profile_epoch(args.workload, args.backend, args.top, args.repeats))
    else:
        print(profile_epoch(args.workload, args.backend, args.top, args.repeats))


if __name__ == "__main__":
    main()
