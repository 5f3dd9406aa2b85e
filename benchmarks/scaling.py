"""Training across processes on this machine: 1 and 2 processes, communication timed apart.

Usage::

    python benchmarks/scaling.py [--steps 150] [--repeats 3] [--out benchmarks/results]

It launches itself under ``mpiexec`` (MPICH's, from ``pip install mpi4py
mpich``) once per row below, every process with one BLAS thread, on the
medium workload (784-256-128-10 sigmoid layers, MSE, plain SGD, float32,
``--steps`` steps of each process's own synthetic data per epoch):

- ``1 process``: a plain ``fit``, batch 128 (the fused in-place SGD step);
- ``1 process, MPIDataParallel``: the same through the distributed step
  (gradients packed, an allreduce over one process, the optimizer's update);
- ``2 processes, independent``: two plain ``fit`` at once, no communication:
  what sharing the cores and memory costs;
- ``2 processes, batch 128 each``: one model, global batch 256;
- ``2 processes, batch 64 each``: one model, global batch 128, the model of
  the first row;
- ``allreduce alone``: the step's buffer (all parameters and the batch's
  size, float32) summed over 2 processes in a loop, after a barrier.

Each row's time per step is the slowest process's epoch over its steps, the
median of ``--repeats`` epochs after one to warm up. "allreduce / step" is the
time spent inside ``MPI_Allreduce`` during training, waiting for the other
process included; "allreduce alone" is the transfer without training. Writes
``scaling.md`` and ``scaling.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from machine import machine_info
from workloads import WORKLOADS, make_data

HERE = Path(__file__).resolve().parent
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: (label, processes, mode, batch per process)
ROWS = [
    ("1 process", 1, "plain", 128),
    ("1 process, MPIDataParallel", 1, "parallel", 128),
    ("2 processes, independent", 2, "plain", 128),
    ("2 processes, batch 128 each", 2, "parallel", 128),
    ("2 processes, batch 64 each", 2, "parallel", 64),
    ("allreduce alone, 2 processes", 2, "allreduce", 128),
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150, help="steps per epoch (default 150)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs (default 3)")
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="where scaling.md and scaling.json go (default benchmarks/results)")
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "BATCH", "JSON"),
                        help=argparse.SUPPRESS)  # what each process runs
    return parser.parse_args(argv)


# -- one process of a row --------------------------------------------------------------


def worker(mode: str, batch: int, out: Path, steps: int, repeats: int) -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    import numpy as np
    from mpi4py import MPI

    from agnostic_mlp import MLP, SGD
    from agnostic_mlp.distributed import MPIDataParallel

    comm = MPI.COMM_WORLD
    workload = WORKLOADS["medium-f32"]
    layers = list(workload.layers)
    x, y = make_data(workload, steps * batch, seed=comm.rank)
    parallel = MPIDataParallel() if mode == "parallel" else None
    record: dict[str, Any] = {"rank": comm.rank, "size": comm.size}
    if mode == "allreduce":
        n = sum(a * b + b for a, b in itertools.pairwise(layers)) + 1
        buffer = np.ones(n, dtype=np.float32)
        for _ in range(20):
            comm.Allreduce(MPI.IN_PLACE, buffer)
        times = []
        for _ in range(repeats):
            comm.Barrier()
            start = time.perf_counter()
            for _ in range(steps):
                comm.Allreduce(MPI.IN_PLACE, buffer)
            times.append((time.perf_counter() - start) / steps)
        record.update(step=times, bytes=int(buffer.nbytes))
    else:
        model = MLP(layers[0], layers[1:-1], layers[-1], seed=0, dtype="float32",
                    activation="sigmoid", loss="mse")
        kwargs: dict[str, Any] = dict(batch_size=batch, shuffle=False, verbose=0,
                                      optimizer=SGD(0.1), parallel=parallel)
        model.fit(x, y, epochs=1, **kwargs)  # warm-up
        times, comm_times = [], []
        for _ in range(repeats):
            comm.Barrier()
            start = time.perf_counter()
            model.fit(x, y, epochs=1, **kwargs)
            times.append((time.perf_counter() - start) / steps)
            if parallel is not None:
                info = parallel.communication()
                comm_times.append(info["seconds"] / max(info["steps"], 1))
                record.update(path=info["path"], bytes=info["bytes"])
        record.update(step=times, allreduce=comm_times)
    gathered = comm.gather(record)
    if comm.rank == 0:
        out.write_text(json.dumps(gathered))


# -- the launcher ------------------------------------------------------------------------


def launch(processes: int, mode: str, batch: int, steps: int, repeats: int) -> list[Any]:
    mpiexec = shutil.which("mpiexec", path=os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if mpiexec is None:
        raise SystemExit("mpiexec not found: pip install mpi4py mpich")
    env = {**os.environ, **ONE_THREAD}
    root = str(HERE.parent)  # this checkout's agnostic_mlp first
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        subprocess.run([mpiexec, "-n", str(processes), sys.executable, __file__, "--steps",
                        str(steps), "--repeats", str(repeats), "--worker", mode, str(batch),
                        str(out)], env=env, check=True, timeout=900)
        found: list[Any] = json.loads(out.read_text())
        return found


def summarise(label: str, processes: int, mode: str, batch: int,
              records: list[Any]) -> dict[str, Any]:
    # Each repeat's step time is its slowest process's.
    per_repeat = [max(r["step"][i] for r in records) for i in range(len(records[0]["step"]))]
    step = statistics.median(per_repeat)
    samples = batch * processes
    row: dict[str, Any] = {"label": label, "processes": processes, "mode": mode,
                           "batch_per_process": batch, "step_us": step * 1e6,
                           "step_us_range": [min(per_repeat) * 1e6, max(per_repeat) * 1e6],
                           "samples_per_s": samples / step, "records": records}
    if mode == "parallel":
        row["allreduce_us"] = statistics.median(
            statistics.median(r["allreduce"]) for r in records) * 1e6
        row["path"] = records[0].get("path")
        row["bytes"] = records[0].get("bytes")
    if mode == "allreduce":
        row["bytes"] = records[0]["bytes"]
        row["samples_per_s"] = None
    return row


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    base = rows[0]["samples_per_s"]
    lines = [
        "# Scaling across processes (MPI)",
        "",
        f"{meta['date']}, {meta['cpu']} ({meta['cpus']} logical CPUs), {meta['mpi']}; "
        f"one BLAS thread per process; medium workload (784-256-128-10, float32, plain SGD), "
        f"{meta['steps']} steps per epoch, median of {meta['repeats']} epochs; load average "
        f"before {meta['load_before']}, after {meta['load_after']}.",
        "",
        "| run | time per step (µs) | samples/s | x 1 process | allreduce / step (µs) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        low, high = r["step_us_range"]
        rate = r["samples_per_s"]
        speed = "—" if rate is None else f"{rate / base:.2f}"
        comm = f"{r['allreduce_us']:.0f}" if "allreduce_us" in r else (
            f"{r['step_us']:.0f}" if r["mode"] == "allreduce" else "—")
        lines.append(f"| {r['label']} | {r['step_us']:.0f} ({low:.0f}-{high:.0f}) | "
                     f"{'—' if rate is None else f'{rate:,.0f}'} | {speed} | {comm} |")
    paths = sorted({r["path"] for r in rows if r.get("path")})
    sizes = sorted({r["bytes"] for r in rows if r.get("bytes")})
    lines += ["", f"Buffer path: {', '.join(paths)}; {', '.join(f'{b:,}' for b in sizes)} "
                  "bytes per allreduce (every parameter and the batch's size)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        mode, batch, out = args.worker
        worker(mode, int(batch), Path(out), args.steps, args.repeats)
        return
    info = machine_info()
    load_before = [round(v, 2) for v in os.getloadavg()]
    rows = []
    for label, processes, mode, batch in ROWS:
        print(f"{label} ...", file=sys.stderr, flush=True)
        records = launch(processes, mode, batch, args.steps, args.repeats)
        rows.append(summarise(label, processes, mode, batch, records))
    import mpi4py

    meta = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpu": info["cpu_model"],
            "cpus": info["logical_cpus"], "steps": args.steps, "repeats": args.repeats,
            "mpi": f"mpi4py {mpi4py.__version__}, {_mpi_library()}",
            "load_before": load_before, "load_after": [round(v, 2) for v in os.getloadavg()]}
    text = markdown(rows, meta)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.md").write_text(text)
    (args.out / "scaling.json").write_text(json.dumps({"meta": meta, "machine": info,
                                                       "rows": rows}, indent=1))


def _mpi_library() -> str:
    found = subprocess.run([sys.executable, "-c", "from mpi4py import MPI; "
                            "print(MPI.Get_library_version().splitlines()[0])"],
                           capture_output=True, text=True, check=False)
    return " ".join(found.stdout.split()) or "unknown MPI"


if __name__ == "__main__":
    main()
