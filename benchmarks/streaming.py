"""Streaming from a memmap on local disk against the same data in memory (medium workload).

Three ways to train, alternately in one process, on the same data with the
same model and seed: the arrays in memory; a ``.npy`` memmap streamed a window
at a time with the next window read in the background (``Stream``'s default);
and the same without reading ahead (``prefetch=False``). The report is each
one's samples per second (median over repeats), its ratio to in memory, and
its peak resident memory, measured in a fresh process for each::

    python benchmarks/streaming.py [--samples 60000] [--epochs 2] [--repeats 5]
                                   [--windows default,16384] [--cold]

``--cold`` evicts the files from the operating system's page cache before
every streamed fit (``posix_fadvise(DONTNEED)``), so the reads come from the
disk; otherwise the file is in the page cache, as after a first epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from machine import load_average, log, machine_info
from workloads import WORKLOADS, make_data

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # agnostic_mlp from the checkout when not installed
    sys.path.append(str(HERE.parent))

from agnostic_mlp import MLP, SGD, Stream  # noqa: E402

WORKLOAD = WORKLOADS["medium-f32"]
_MIB = 2**20


def build() -> MLP:
    """The medium workload's network, as the other benchmarks build it."""
    w = WORKLOAD
    return MLP(w.layers[0], list(w.layers[1:-1]), w.layers[-1], dtype=w.dtype, seed=0,
               bias=w.bias, activation="sigmoid", output_activation="sigmoid", loss="mse",
               optimizer=SGD(w.learning_rate))


def evict(*paths: Path) -> None:
    """Drop the files' pages from the page cache (clean pages need no privileges)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def data(how: str, folder: Path, window: int | None) -> tuple[Any, Any]:
    """The training data for one way of training."""
    x = np.load(folder / "x.npy", mmap_mode="r")
    y = np.load(folder / "y.npy", mmap_mode="r")
    if how == "memory":
        return np.array(x), np.array(y)
    return Stream(x, window=window, prefetch=how == "prefetch"), y


def fit_seconds(model: MLP, x: Any, y: Any, epochs: int) -> float:
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=WORKLOAD.batch_size, verbose=0)
    return time.perf_counter() - start


def peak(how: str, folder: Path, window: int | None, epochs: int) -> dict[str, float]:
    """Peak resident memory of one fit, in a fresh process: in all, and above its start."""
    code = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "from pathlib import Path\n"
        "import streaming as s\n"
        "def rss(key):\n"
        "    return int(open('/proc/self/status').read().split(key + ':')[1].split()[0])\n"
        "model = s.build()\n"
        "x, y = s.data(sys.argv[3], Path(sys.argv[4]), None if sys.argv[5] == 'default' "
        "else int(sys.argv[5]))\n"
        "before = rss('VmRSS')\n"
        "model.fit(x, y, epochs=int(sys.argv[6]), batch_size=s.WORKLOAD.batch_size, verbose=0)\n"
        "print(rss('VmHWM') / 1024, (rss('VmHWM') - before) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(HERE), str(HERE.parent), how,
                          str(folder), "default" if window is None else str(window),
                          str(epochs)], capture_output=True, text=True, check=True).stdout
    total, above = map(float, out.split())
    return {"peak_mib": round(total, 1), "peak_above_start_mib": round(above, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=WORKLOAD.n_samples)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--windows", default="default,16384",
                        help="rows per window, comma-separated ('default': about 8 MiB)")
    parser.add_argument("--cold", action="store_true", help="evict the files before each fit")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "streaming")
    parser.add_argument("--folder", type=Path, default=None,
                        help="where to write the data (default: a temporary folder)")
    args = parser.parse_args(argv)
    windows = [None if w == "default" else int(w) for w in args.windows.split(",")]

    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        folder = Path(tmp)
        x, y = make_data(WORKLOAD, args.samples)
        np.save(folder / "x.npy", x)
        np.save(folder / "y.npy", y)
        log(f"{args.samples} samples, {x.nbytes / _MIB:.0f} MiB of features in {folder}")
        del x, y
        ways = ["memory"] + [f"{how}@{w or 'default'}" for w in windows
                             for how in ("prefetch", "no-prefetch")]
        times: dict[str, list[float]] = {way: [] for way in ways}
        for r in range(args.repeats):
            for way in ways:
                how, _, w = way.partition("@")
                window = None if w in ("", "default") else int(w)
                if args.cold and how != "memory":
                    evict(folder / "x.npy", folder / "y.npy")
                xs, ys = data(how, folder, window)
                times[way].append(fit_seconds(build(), xs, ys, args.epochs))
            log(f"repeat {r + 1}/{args.repeats}: " + ", ".join(
                f"{way} {times[way][-1]:.2f} s" for way in ways))
        rows = []
        base = statistics.median(times["memory"])
        for way in ways:
            how, _, w = way.partition("@")
            window = None if w in ("", "default") else int(w)
            median = statistics.median(times[way])
            rows.append({
                "way": how, "window": w or None,
                "samples_per_s": round(args.samples * args.epochs / median),
                "x_in_memory": round(base / median, 3),
                "seconds": [round(t, 3) for t in times[way]],
                **peak(how, folder, window, 1),
            })
    report = {"workload": WORKLOAD.describe(), "samples": args.samples, "epochs": args.epochs,
              "repeats": args.repeats, "cold": args.cold, "rows": rows,
              "load_average": load_average(), "machine": machine_info()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [f"Medium f32, {args.samples} samples, {args.epochs} epochs, median of "
             f"{args.repeats} ({'cold' if args.cold else 'warm'} page cache)", "",
             "| data | window | samples/s | x in memory | peak RSS (MiB) | above start (MiB) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        lines.append(f"| {row['way']} | {row['window'] or '—'} | {row['samples_per_s']} | "
                     f"{row['x_in_memory']:.3f} | {row['peak_mib']:.0f} | "
                     f"{row['peak_above_start_mib']:.0f} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
