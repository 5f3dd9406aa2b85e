"""Same-process A/B on PyTorch's CPU: ``MLP.fit`` at a git revision, this checkout's, and a
plain PyTorch loop of the same math (``contenders.py``'s ``pytorch[cpu]``), in turns::

    python benchmarks/torch_ab.py --base HEAD~1 --workloads small-b32-f32,medium-f32 --threads 1

Prints each one's median time per epoch and the per-repeat ratios B/A and B/pytorch
(median and range).
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
from pathlib import Path

from ab import extract, timed, trainer
from contenders import _pytorch
from workloads import WORKLOADS, make_data


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD~1")
    parser.add_argument("--workloads", default="small-b32-f32,medium-f32,large-f32")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--samples", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave)")
    args = parser.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        sys.path.insert(0, folder)
        base = importlib.import_module(extract(args.base, Path(folder)))
        head = importlib.import_module("agnostic_mlp")
        print(f"A = {args.base}, B = this checkout; torch threads {torch.get_num_threads()}")
        print(f"{'workload':<16}{'A s':>9}{'B s':>9}{'torch s':>9}{'B/A':>19}{'B/torch':>19}"
              f"{'A/torch':>19}")
        for name in args.workloads.split(","):
            w = WORKLOADS[name]
            n = args.samples or w.n_samples
            x, y = make_data(w, n)
            plain = _pytorch("cpu")(w, x, y).run
            steps = w.epoch_steps(n)
            runs = {"A": trainer(base, w, x, y, "torch"), "B": trainer(head, w, x, y, "torch"),
                    "torch": (lambda plain=plain, s=steps: plain(s))}
            for fn in runs.values():
                fn()
            times: dict[str, list[float]] = {k: [] for k in runs}
            order = list(runs)
            for r in range(args.repeats):
                for key in order[r % 3:] + order[:r % 3]:
                    times[key].append(timed(runs[key]))

            def ratio(p: str, q: str, times: dict[str, list[float]] = times) -> str:
                rs = [a / b for a, b in zip(times[p], times[q], strict=True)]
                return f"{statistics.median(rs):.2f} [{min(rs):.2f}-{max(rs):.2f}]"

            med = {k: statistics.median(v) for k, v in times.items()}
            print(f"{name:<16}{med['A']:>9.4f}{med['B']:>9.4f}{med['torch']:>9.4f}"
                  f"{ratio('B', 'A'):>19}{ratio('B', 'torch'):>19}"
                  f"{ratio('A', 'torch'):>19}", flush=True)


if __name__ == "__main__":
    main()
