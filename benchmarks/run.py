"""Time agnostic_mlp against the tutorial, PyTorch, scikit-learn and the matmul floor.

Usage::

    python benchmarks/run.py [--quick] [--workloads small,medium] [--repeats 5]
                             [--backends numpy,torch,jax,cupy] [--out benchmarks/results]

Writes ``results.md`` (the tables, also printed), ``results.json`` (raw times,
per-repeat ratios, machine information), ``ratio_to_floor.png`` and ``throughput.png`` to ``--out``.
See ``benchmarks/README.md`` for what the numbers mean.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contenders import KINDS, Contender, build_contenders
from machine import blas_summary, load_average, log, machine_info
from memory import measure_in_subprocess, summary
from report import markdown, plot_all, summarise, write_json
from timing import plan_steps, round_robin
from workloads import WORKLOADS, Workload, make_data, select_workloads

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("agnostic_mlp") is None:  # run from a checkout, not installed
    sys.path.append(str(HERE.parent))

DEFAULT_BACKENDS = ("numpy", "torch", "jax", "cupy")
#: What ``--quick`` runs unless ``--workloads`` says otherwise: one of each size.
QUICK_WORKLOADS = ("small-b1-f64", "small-b32-f32", "medium-f32", "large-f32")




def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Benchmark agnostic_mlp's training speed against references.")
    parser.add_argument("--workloads", type=_csv, default=None,
                        help="comma-separated workload names or prefixes (default: all "
                             f"of {', '.join(WORKLOADS)}; with --quick "
                             f"{', '.join(QUICK_WORKLOADS)})")
    parser.add_argument("--repeats", type=int, default=None,
                        help="round-robin repeats (default 5, or 2 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="few samples and short measurements: a smoke test (< 60 s)")
    parser.add_argument("--backends", type=_csv, default=list(DEFAULT_BACKENDS),
                        help="agnostic_mlp backends (default numpy,torch,jax,cupy; "
                             "array_api_strict is also accepted); unusable ones are skipped")
    parser.add_argument("--contenders", type=_csv, default=list(KINDS),
                        help=f"kinds of contender (default {','.join(KINDS)}); "
                             "floors always run")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds one measurement may take before it is cut short of "
                             "an epoch (default 1.0, or 0.1 with --quick)")
    parser.add_argument("--threads", type=int, default=None,
                        help="cap the threads of PyTorch, OpenBLAS and OpenMP pools (through "
                             "threadpoolctl); JAX's are not capped; default: leave them be")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the memory check of a NumPy fit")
    parser.add_argument("--gpu-only", action="store_true",
                        help="only the contenders on a GPU (CuPy, PyTorch CUDA) and their floors")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="output folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    unknown = set(args.contenders) - set(KINDS)
    if unknown:
        parser.error(f"unknown contender kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def _preload(backends: list[str], kinds: list[str]) -> None:
    """Import the libraries in use now, so machine info sees their thread pools."""
    if "jax" in backends and importlib.util.find_spec("jax") is not None:
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 workloads need it
    if importlib.util.find_spec("torch") is not None:
        import torch  # noqa: F401
    if "sklearn" in kinds and importlib.util.find_spec("sklearn") is not None:
        import sklearn.neural_network  # noqa: F401


def _limit_threads(threads: int) -> Any:
    """Cap PyTorch's threads and every pool threadpoolctl knows; returns the limiter to keep."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads)


def bench_workload(workload: Workload, contenders: list[Contender], *, quick: bool,
                   repeats: int, budget_s: float, seed: int) -> dict[str, Any]:
    """Prepare, warm up and time every contender that applies to ``workload``.

    Returns
    -------
    dict
        ``spec``, ``n_samples``, ``contenders`` (raw times and plans, summarised
        by :func:`report.summarise`) and ``skipped`` (name to reason).
    """
    load_before = load_average()
    n = workload.samples(quick)
    x, y = make_data(workload, n, seed)
    epoch_steps = workload.epoch_steps(n)
    log(f"== {workload.name}: {'-'.join(map(str, workload.layers))}, batch "
         f"{workload.batch_size}, {n} samples ({epoch_steps} steps/epoch), {workload.dtype}")
    prepared = []
    skipped: dict[str, str] = {}
    for c in contenders:
        if not c.applies(workload):
            continue
        try:
            runner = c.prepare(workload, x, y)
            plan = plan_steps(runner.run, epoch_steps, workload.batch_size, n, budget_s,
                              min_steps=1 if quick else workload.min_steps,
                              probe_s=min(0.2, budget_s / 4))
        except Exception as exc:  # a contender that fails here is reported, not fatal
            skipped[c.name] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            log(f"   {c.name}: skipped ({skipped[c.name]})")
            continue
        log(f"   {c.name}: {plan.steps}/{epoch_steps} steps per measurement "
             f"(warm-up {plan.warmup_s:.1f} s)")
        prepared.append((c, runner, plan))

    def progress(r: int, c: int, t: float) -> None:
        if c == 0:
            log(f"   repeat {r + 1}/{repeats}")

    times = round_robin([(runner.run, plan.steps) for _, runner, plan in prepared], repeats,
                        progress)
    entries = {
        c.name: {"kind": c.kind, "floor": c.floor, "info": runner.info, "steps": plan.steps,
                 "epoch_steps": plan.epoch_steps, "samples": plan.samples,
                 "full_epoch": plan.full_epoch, "warmup_s": plan.warmup_s, "times_s": ts}
        for (c, runner, plan), ts in zip(prepared, times, strict=True)
    }
    result = {"spec": workload.describe(), "n_samples": n, "contenders": entries,
              "skipped": skipped, "load_before": load_before, "load_after": load_average()}
    summarise(result)
    del prepared
    gc.collect()
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmarks and write the reports; returns the results."""
    args = parse_args(argv)
    started = time.perf_counter()
    quick = args.quick
    repeats = args.repeats or (2 if quick else 5)
    budget_s = args.budget or (0.1 if quick else 1.0)
    workloads = select_workloads(args.workloads or (QUICK_WORKLOADS if quick else None))
    _preload(args.backends, args.contenders)
    limiter = _limit_threads(args.threads) if args.threads else None
    gc.collect()
    gc.freeze()  # keeps the collections before each measurement short
    contenders, notes = build_contenders(args.backends, args.contenders)
    if args.gpu_only:
        contenders = [c for c in contenders if "cuda" in c.name or "cupy" in c.name]
        if not contenders:
            raise SystemExit("--gpu-only: no contender runs on a GPU here")
    notes.append("sklearn: MLPRegressor's output layer is the identity (not a sigmoid) and "
                 "its layers always have biases; it also computes the loss of every batch.")
    if "jax" in args.backends:
        notes.append("agnostic_mlp[jax] compiles each epoch (jit of a lax.scan) and is held "
                     "to NumPy's floor, as JAX has no matmul into a preallocated buffer.")
    info = machine_info()
    log(blas_summary(info))
    load = load_average()
    if load and info["usable_cpus"] and load[0] > 0.5 * info["usable_cpus"]:
        log(f"warning: load average {load[0]} on {info['usable_cpus']} CPUs: other work "
             "is running, timings will be noisy (ratios within a repeat less so)")
    for note in notes:
        log(f"note: {note}")

    results: dict[str, Any] = {
        "meta": {"started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                 "argv": sys.argv[1:] if argv is None else argv, "quick": quick,
                 "repeats": repeats, "budget_s": budget_s, "seed": args.seed,
                 "backends": args.backends, "contenders": [c.name for c in contenders],
                 "threads": args.threads, "load_before": load_average()},
        "machine": info,
        "notes": notes,
        "workloads": {},
    }
    for w in workloads:
        results["workloads"][w.name] = bench_workload(
            w, contenders, quick=quick, repeats=repeats, budget_s=budget_s, seed=args.seed)

    if not args.no_memory:
        log("== memory of a NumPy fit (medium, float32)")
        mem = measure_in_subprocess(4_096 if quick else 60_000, 3)
        mem["summary"] = summary(mem)
        results["memory"] = mem
        log(mem["summary"])

    del limiter  # the thread caps last until here
    results["meta"]["duration_s"] = time.perf_counter() - started
    results["meta"]["load_after"] = load_average()
    _write(results, args.out)
    return results


def _write(results: dict[str, Any], out: Path, echo: Callable[[str], None] = print) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(results)
    (out / "results.md").write_text(text, encoding="utf-8")
    write_json(results, out / "results.json")
    charts = plot_all(results, out)
    echo(text)
    log(f"wrote {out / 'results.md'}, {out / 'results.json'}"
        + ("".join(f", {c}" for c in charts) if charts else " (no matplotlib: no chart)"))


if __name__ == "__main__":
    main()
