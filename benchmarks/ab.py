"""Same-process A/B: this checkout's ``MLP.fit`` against the one at a git revision.

The package at ``--base`` is extracted from git into a temporary folder under
another name (``agnostic_mlp_base``: it imports itself relatively), so both
versions train in one process, alternately, on the same data. The report is
the median over repeats of each one's time per epoch and their ratio, with
the matmul floor's time for scale::

    python benchmarks/ab.py --base 1d64eeb --workloads small-b1-f64,medium-f32 --repeats 7

``--backend torch`` trains both on PyTorch, ``--momentum 0.9`` with SGD's momentum.

With ``--estimators``, the two versions' ``MLPClassifier.fit`` instead, on a
``make_classification`` set (100 features, 10 classes; adam, hidden layers
256 and 128, ``batch_size="auto"``, a fixed number of epochs): the report is
each one's time per epoch and their ratio::

    OPENBLAS_NUM_THREADS=1 python benchmarks/ab.py --base 16dcc1c --estimators --repeats 5
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from contenders import make_floor
from workloads import WORKLOADS, Workload, make_data

REPO = Path(__file__).resolve().parents[1]


def extract(revision: str, folder: Path) -> str:
    """``agnostic_mlp`` at ``revision`` as the package ``agnostic_mlp_base`` in ``folder``."""
    target = folder / "agnostic_mlp_base"
    files = subprocess.run(["git", "-C", str(REPO), "ls-tree", "-r", "--name-only", revision,
                            "agnostic_mlp"], check=True, capture_output=True,
                           text=True).stdout.split()
    for name in files:
        data = subprocess.run(["git", "-C", str(REPO), "show", f"{revision}:{name}"],
                              check=True, capture_output=True).stdout
        path = target / Path(name).relative_to("agnostic_mlp")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return "agnostic_mlp_base"


def trainer(package: Any, w: Workload, x: np.ndarray, y: np.ndarray,
            backend: str = "numpy", momentum: float = 0.0) -> Any:
    """One epoch of ``fit`` of ``package``'s MLP on data already on the device."""
    model = package.MLP(w.layers[0], list(w.layers[1:-1]), w.layers[-1], dtype=w.dtype,
                        seed=0, bias=w.bias, activation="sigmoid", backend=backend,
                        output_activation="sigmoid", loss="mse")
    xd = model.xp.asarray(x, dtype=model.dtype)
    yd = model.xp.asarray(y, dtype=model.dtype)
    optimizer = package.SGD(w.learning_rate, momentum=momentum)

    def run() -> None:
        model.fit(xd, yd, epochs=1, batch_size=w.batch_size, optimizer=optimizer,
                  shuffle=False, verbose=0)

    return run


def estimator_trainer(package: Any, x: np.ndarray, y: np.ndarray, epochs: int) -> Any:
    """A whole ``fit`` of ``package``'s MLPClassifier (``epochs`` epochs)."""
    import warnings

    def run() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the fixed number of epochs warns
            package.MLPClassifier(hidden_layer_sizes=(256, 128), max_iter=epochs,
                                  n_iter_no_change=np.inf, random_state=0).fit(x, y)

    return run


def estimators(base: Any, head: Any, samples: int, repeats: int, epochs: int = 3) -> None:
    """Print the two versions' MLPClassifier times per epoch, and B/A."""
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    x, y = make_classification(n_samples=samples, n_features=100, n_informative=50,
                               n_classes=10, random_state=0)
    x = StandardScaler().fit_transform(x)
    runs = {"A": estimator_trainer(base, x, y, epochs), "B": estimator_trainer(head, x, y, epochs)}
    for fn in runs.values():
        fn()  # warm up
    times: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(repeats):
        for key in ("A", "B") if r % 2 == 0 else ("B", "A"):
            times[key].append(timed(runs[key]) / epochs)
    a, b = (statistics.median(times[k]) for k in ("A", "B"))
    ratios = [tb / ta for ta, tb in zip(times["A"], times["B"], strict=True)]
    print(f"{'MLPClassifier':<16}{'A s/epoch':>12}{'B s/epoch':>12}{'B/A':>8}")
    print(f"{samples:<16}{a:>12.4f}{b:>12.4f}{statistics.median(ratios):>8.3f}", flush=True)


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD~1", help="the git revision to compare with")
    parser.add_argument("--workloads", default="small-b1-f32,small-b1-f64,medium-f32,large-f32")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=0,
                        help="samples per epoch (default: the workload's)")
    parser.add_argument("--backend", default="numpy",
                        help="the backend both versions train on (the floor stays NumPy's)")
    parser.add_argument("--momentum", type=float, default=0.0,
                        help="SGD's momentum in both versions (default: plain SGD)")
    parser.add_argument("--estimators", action="store_true",
                        help="compare the MLPClassifier estimators' fit instead")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        sys.path.insert(0, folder)
        base = importlib.import_module(extract(args.base, Path(folder)))
        head = importlib.import_module("agnostic_mlp")
        print(f"A = {args.base} ({base.__file__}), B = this checkout ({head.__file__})")
        if args.estimators:
            estimators(base, head, args.samples or 20000, args.repeats)
            return
        print(f"{'workload':<16}{'A s/epoch':>12}{'B s/epoch':>12}{'B/A':>8}"
              f"{'A x floor':>11}{'B x floor':>11}  B/A per repeat (min-max)")
        for name in args.workloads.split(","):
            w = WORKLOADS[name]
            n = args.samples or w.n_samples
            x, y = make_data(w, n)
            runs = {"A": trainer(base, w, x, y, args.backend, args.momentum),
                    "B": trainer(head, w, x, y, args.backend, args.momentum),
                    "floor": make_floor("numpy")(w, x, y).run}
            steps = w.epoch_steps(n)
            runs["floor"] = (lambda floor=runs["floor"], s=steps: floor(s))
            for fn in runs.values():
                fn()  # warm up
            times: dict[str, list[float]] = {k: [] for k in runs}
            order = list(runs)
            for r in range(args.repeats):
                for key in order[r % 3:] + order[:r % 3]:  # rotate who goes first
                    times[key].append(timed(runs[key]))
            a, b, f = (statistics.median(times[k]) for k in ("A", "B", "floor"))
            ratios = [tb / ta for ta, tb in zip(times["A"], times["B"], strict=True)]
            print(f"{name:<16}{a:>12.4f}{b:>12.4f}{statistics.median(ratios):>8.3f}"
                  f"{a / f:>11.3f}{b / f:>11.3f}  {min(ratios):.3f}-{max(ratios):.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
