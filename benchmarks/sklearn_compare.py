"""agnostic_mlp's MLPClassifier against sklearn.neural_network's, side by side.

Usage::

    python benchmarks/sklearn_compare.py [--quick] [--repeats 5] [--threads 1]
                                         [--backends numpy,torch,jax] [--dtype float32]
                                         [--out benchmarks/results]

Two workloads: scikit-learn's digits (1,347 training images, 64 features, 10
classes) and a 50,000-sample ``make_classification`` (100 features, 10
classes), each standardised. Both estimators get the same parameters (adam,
``batch_size="auto"``, the same ``random_state``) and train a fixed number of
epochs (``n_iter_no_change=inf``); a fit's time per epoch is its wall time
divided by ``n_iter_``, the median of ``--repeats`` fits taken in turns
(round robin, so load on the machine hits every contender alike). Test
accuracy is reported beside it: the models are the same (scikit-learn's
initialisation, shuffles and update rules), so it must agree.

Writes ``sklearn_compare.md`` (the tables, also printed) and
``sklearn_compare.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("agnostic_mlp") is None:  # run from a checkout, not installed
    sys.path.append(str(HERE.parent))

from machine import blas_summary, load_average, log, machine_info  # noqa: E402


@dataclass(frozen=True)
class Workload:
    """A data set and the network trained on it."""

    name: str
    hidden: tuple[int, ...]
    epochs: int
    quick_epochs: int
    description: str


WORKLOADS = (
    Workload("digits", (100,), 30, 5,
             "load_digits: 1,347 train / 450 test, 64 features, 10 classes; 7 batches/epoch"),
    Workload("classification-50k", (256, 128), 4, 1,
             "make_classification: 50,000 train / 10,000 test, 100 features (40 informative), "
             "10 classes; 250 batches/epoch"),
)


def load(name: str, dtype: str) -> tuple[np.ndarray, ...]:
    """Standardised ``(X_train, X_test, y_train, y_test)``."""
    from sklearn.datasets import load_digits, make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name == "digits":
        X, y = load_digits(return_X_y=True)
        test: float | int = 0.25
    else:
        X, y = make_classification(n_samples=60_000, n_features=100, n_informative=40,
                                   n_classes=10, random_state=0)
        test = 10_000
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test, random_state=0,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    return (scaler.transform(X_train).astype(dtype), scaler.transform(X_test).astype(dtype),
            y_train, y_test)


Fit = Callable[[np.ndarray, np.ndarray, int], Any]


def contenders(backends: list[str]) -> dict[str, Callable[[tuple[int, ...]], Fit]]:
    """Name -> ``make(hidden)`` -> ``fit(X, y, epochs)`` returning the fitted estimator."""
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from agnostic_mlp import MLPClassifier

    def common(hidden: tuple[int, ...], epochs: int) -> dict[str, Any]:
        return dict(hidden_layer_sizes=hidden, max_iter=epochs, n_iter_no_change=math.inf,
                    random_state=0)

    out: dict[str, Callable[[tuple[int, ...]], Fit]] = {
        "sklearn": lambda h: lambda X, y, e: SklearnMLP(**common(h, e)).fit(X, y)}
    for backend in backends:
        def make(h: tuple[int, ...], backend: str = backend) -> Fit:
            return lambda X, y, e: MLPClassifier(**common(h, e), backend=backend).fit(X, y)

        out[f"agnostic_mlp[{backend}]"] = make
    return out


def usable(backend: str) -> str | None:
    """None if ``backend`` runs here, else why not."""
    from agnostic_mlp import BackendUnavailableError, get_backend

    try:
        get_backend(backend)
    except BackendUnavailableError as exc:
        return str(exc).splitlines()[0]
    return None


def bench(workload: Workload, dtype: str, backends: list[str], repeats: int,
          quick: bool) -> dict[str, Any]:
    """Fit every contender ``repeats`` times in turns; return times and accuracies."""
    from sklearn.exceptions import ConvergenceWarning

    X_train, X_test, y_train, y_test = load(workload.name, dtype)
    epochs = workload.quick_epochs if quick else workload.epochs
    makers = contenders(backends)
    fits = {name: make(workload.hidden) for name, make in makers.items()}
    per_epoch: dict[str, list[float]] = {name: [] for name in fits}
    accuracy: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for fit in fits.values():  # warm-up: imports, JAX's compilation
            fit(X_train[:400], y_train[:400], 1)
        for r in range(repeats):
            log(f"   repeat {r + 1}/{repeats}")
            for name, fit in fits.items():
                start = time.perf_counter()
                est = fit(X_train, y_train, epochs)
                per_epoch[name].append((time.perf_counter() - start) / est.n_iter_)
                accuracy[name] = float(np.mean(np.asarray(est.predict(X_test)) == y_test))
    medians = {name: statistics.median(ts) for name, ts in per_epoch.items()}
    return {"workload": asdict(workload), "dtype": dtype, "epochs": epochs,
            "n_train": int(X_train.shape[0]), "times_s": per_epoch, "median_s": medians,
            "test_accuracy": accuracy,
            "speedup": {name: medians["sklearn"] / t for name, t in medians.items()}}


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = ["# agnostic_mlp.MLPClassifier vs sklearn.neural_network.MLPClassifier", "",
             f"- {meta['started']}, {meta['repeats']} repeats, {meta['dtype']}, "
             f"threads: {meta['threads'] or 'unchanged'}"
             + (f" (pinned to CPU {meta['pinned_cpu']})" if meta.get("pinned_cpu") is not None
                else "") + f"; took {meta['duration_s']:.0f} s",
             f"- {meta['blas']}",
             f"- 1-min load average before/after: {meta['load_before']} / {meta['load_after']}",
             "", "Time per epoch: median over repeats (range); speed-up: scikit-learn's median "
             "time over the contender's (> 1 is faster).", ""]
    for w in results["workloads"]:
        lines += [f"## {w['workload']['name']}", "",
                  f"{w['workload']['description']}; hidden layers {w['workload']['hidden']}, "
                  f"adam, batch_size auto, {w['epochs']} epochs per fit", "",
                  "| contender | ms/epoch | speed-up | test accuracy |", "|---|---:|---:|---:|"]
        for name, ts in w["times_s"].items():
            lines.append(f"| {name} | {1e3 * w['median_s'][name]:.1f} "
                         f"({1e3 * min(ts):.1f}-{1e3 * max(ts):.1f}) | "
                         f"{w['speedup'][name]:.2f} | {w['test_accuracy'][name]:.4f} |")
        lines.append("")
    for note in results["notes"]:
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"




def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one repeat of few epochs: a smoke test")
    parser.add_argument("--repeats", type=int, default=None, help="fits per contender "
                        "(default 5, or 1 with --quick)")
    parser.add_argument("--backends", default="numpy",
                        help="agnostic_mlp backends, comma-separated (default numpy); "
                             "unusable ones are skipped")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="the data's dtype, which both estimators compute in")
    parser.add_argument("--threads", type=int, default=None,
                        help="cap BLAS, OpenMP and PyTorch threads (threadpoolctl); 1 also "
                             "pins the process to one CPU (JAX's threads)")
    parser.add_argument("--workloads", default=",".join(w.name for w in WORKLOADS),
                        help="comma-separated workload names")
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="output folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    started = time.perf_counter()
    pinned = None
    if args.threads == 1 and hasattr(os, "sched_setaffinity"):
        # One core for this thread and every thread made from now on: XLA's pools, which
        # neither threadpoolctl nor XLA_FLAGS keep to one thread (JAX used 1.5 cores
        # without). OpenBLAS's pool exists already; threadpoolctl keeps it to one thread.
        pinned = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {pinned})
    backends, notes = [], []
    for b in (b.strip() for b in args.backends.split(",") if b.strip()):
        reason = usable(b)
        if reason is None:
            backends.append(b)
        else:
            notes.append(f"agnostic_mlp[{b}] skipped: {reason}")
    if "jax" in backends and args.dtype == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    limiter = None
    if args.threads:
        if importlib.util.find_spec("torch") is not None:
            import torch

            torch.set_num_threads(args.threads)
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=args.threads)
    import sklearn.neural_network  # noqa: F401  (its BLAS pool, for the summary)

    info = machine_info()
    log(blas_summary(info))
    repeats = args.repeats or (1 if args.quick else 5)
    chosen = [w for w in WORKLOADS if w.name in args.workloads.split(",")]
    results: dict[str, Any] = {
        "meta": {"started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                 "argv": sys.argv[1:] if argv is None else argv, "repeats": repeats,
                 "dtype": args.dtype, "threads": args.threads, "pinned_cpu": pinned,
                 "quick": args.quick,
                 "blas": blas_summary(info), "load_before": load_average()},
        "machine": info, "notes": notes, "workloads": []}
    for w in chosen:
        log(f"== {w.name}")
        results["workloads"].append(bench(w, args.dtype, backends, repeats, args.quick))
    del limiter
    results["meta"]["duration_s"] = time.perf_counter() - started
    results["meta"]["load_after"] = load_average()
    text = markdown(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sklearn_compare.md").write_text(text, encoding="utf-8")
    (args.out / "sklearn_compare.json").write_text(json.dumps(results, indent=1, default=str),
                                                    encoding="utf-8")
    log(f"wrote {args.out / 'sklearn_compare.md'} and {args.out / 'sklearn_compare.json'}")
    return results


if __name__ == "__main__":
    main()
