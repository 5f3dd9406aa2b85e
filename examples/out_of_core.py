"""Train on a data set larger than the memory the training process may use.
========================================================================

The program writes a synthetic classification data set (is a point inside a
ball? with 5 % of the labels flipped) to a file, a ``.npy`` memmap or, with
``--format zarr``, a Zarr array, in slices, so it is never whole in memory.
Then a child process caps its own private memory (``RLIMIT_DATA``, on Linux;
not with JAX, whose compiler needs more) at what it already uses plus half the
data set's size, shows that loading the data would fail, and trains on the
file as it lies: ``fit`` reads it a window at a time, shuffles the windows and
the rows within them, and checks every window as it goes::

    python examples/out_of_core.py --rows 4000000 --format zarr

It prints the test accuracy, the data set's size and the training process's
peak resident memory, and writes the loss curves (``out_of_core_loss.png``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _shared import EXAMPLES, pyplot, quick, save
from _shared import parser as shared_parser

from agnostic_mlp import MLP, Adam, Stream, plot_history

FEATURES = 16
_MIB = 2**20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = shared_parser(__doc__, 2, "passes over the file")
    parser.add_argument("--rows", type=int, default=500_000 if quick() else 4_000_000,
                        help="rows to write (default: 4,000,000, 244 MiB of features; "
                             "500,000 with AGNOSTIC_MLP_EXAMPLES_QUICK=1)")
    parser.add_argument("--format", choices=("npy", "zarr"), default="npy",
                        help="the file's format (default: npy, read as a memmap)")
    parser.add_argument("--batch-size", type=int, default=1024,
                        help="mini-batch size (default: 1024)")
    parser.add_argument("--folder", type=Path, default=None,
                        help="where to write the data (default: a temporary folder)")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def write(folder: Path, rows: int, fmt: str, seed: int = 0) -> tuple[Path, Path]:
    """The data set, written a slice at a time: features and their integer labels."""
    rng = np.random.default_rng(seed)
    radius = np.sqrt(FEATURES / 3.0 - 0.35)  # about half of the points inside
    x_path, y_path = folder / f"x.{fmt}", folder / f"y.{fmt}"
    if fmt == "zarr":
        import zarr

        x: Any = zarr.open_array(str(x_path), mode="w", shape=(rows, FEATURES),
                                 dtype="float32", chunks=(65_536, FEATURES))
        y: Any = zarr.open_array(str(y_path), mode="w", shape=(rows,), dtype="int8",
                                 chunks=(65_536,))
    else:
        x = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float32,
                                      shape=(rows, FEATURES))
        y = np.lib.format.open_memmap(y_path, mode="w+", dtype=np.int8, shape=(rows,))
    step = 262_144
    for lo in range(0, rows, step):
        part = rng.uniform(-1.0, 1.0, size=(min(step, rows - lo), FEATURES)) * 1.2
        x[lo:lo + len(part)] = part.astype(np.float32)
        inside = np.linalg.norm(part, axis=1) < radius * 1.2 * 0.5
        flipped = rng.random(len(part)) < 0.05  # label noise: 95 % is the best accuracy
        y[lo:lo + len(part)] = (inside ^ flipped).astype(np.int8)
    if fmt == "npy":
        x.flush()
        y.flush()
    return x_path, y_path


def open_data(x_path: Path, y_path: Path) -> tuple[Any, Any]:
    if x_path.suffix == ".zarr":
        import zarr

        return zarr.open_array(str(x_path), mode="r"), zarr.open_array(str(y_path), mode="r")
    return np.load(x_path, mmap_mode="r"), np.load(y_path, mmap_mode="r")


def status(key: str) -> int:
    """A line of ``/proc/self/status`` in bytes (0 where there is none)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    return int(text.split(f"{key}:")[1].split()[0]) * 1024 if f"{key}:" in text else 0


def train(args: argparse.Namespace) -> dict[str, Any]:
    """The child: cap its memory, then train on the file; return what it saw."""
    x, y = open_data(Path(args.x), Path(args.y))
    data_bytes = int(np.prod(x.shape)) * 4 + int(y.shape[0])
    model = MLP(FEATURES, [64, 32], 2, activation="relu", output_activation="softmax",
                loss="categorical_cross_entropy", optimizer=Adam(3e-3), seed=0,
                backend=args.backend, device=args.device, dtype="float32")
    budget = data_bytes // 2
    # Windows of 1/64 of the budget: three in flight (read ahead, in use, shuffled), and
    # the activations of a whole window when the validation rows are evaluated.
    window = max(args.batch_size, budget // 64 // (FEATURES * 4)
                 // args.batch_size * args.batch_size)
    chunk = getattr(x, "chunks", (None,))[0]  # Zarr reads whole chunks: read them whole
    if isinstance(chunk, int):
        window = -(-window // chunk) * chunk
    # Warm up first: BLAS's buffers and the file library's threads and caches are the
    # process's own use, not the data's.
    model.predict(Stream(x[:2 * window], window=window))
    # JAX's compiler needs more memory while it compiles a window's shape than the cap
    # would leave it: there the process runs uncapped, and says so.
    capped = sys.platform == "linux" and status("VmData") > 0 and args.backend != "jax"
    if capped:  # what the process already holds, and half the data on top
        limit = status("VmData") + budget
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        try:
            np.array(x[:])
            raise SystemExit("the memory cap let the whole data set in")
        except MemoryError:
            pass
    history = model.fit(Stream(x, window=window), y, epochs=args.epochs,
                        batch_size=args.batch_size, validation_split=0.1,
                        verbose=0 if args.quiet else 2)
    n_test = min(200_000, x.shape[0] // 10)  # the held-out last rows
    test = (Stream(x[-n_test:], window=window), np.asarray(y[-n_test:]))
    return {"history": history.history, "epochs": history.epoch,
            "test_accuracy": model.score(*test), "data_mib": data_bytes / _MIB,
            "budget_mib": budget / _MIB, "capped": capped, "window": window,
            "peak_rss_mib": status("VmHWM") / _MIB, "backend": model.backend}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.child is not None:
        args.x, args.y = json.loads(args.child.read_text())["paths"]
        result = train(args)
        args.child.write_text(json.dumps({"paths": [args.x, args.y], "result": result}))
        return result
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        folder = Path(tmp)
        x_path, y_path = write(folder, args.rows, args.format)
        print(f"wrote {args.rows:,} rows to {x_path.name} and {y_path.name}")
        handoff = folder / "handoff.json"
        handoff.write_text(json.dumps({"paths": [str(x_path), str(y_path)]}))
        command = [sys.executable, str(EXAMPLES / "out_of_core.py"), "--child", str(handoff),
                   "--backend", args.backend, "--epochs", str(args.epochs),
                   "--batch-size", str(args.batch_size), *(["--quiet"] if args.quiet else []),
                   *(["--device", args.device] if args.device else [])]
        root = str(EXAMPLES.parent)  # the checkout, if not installed
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH")) if p))
        # Where this process's output is captured (the docs' gallery, a test), the child's
        # lines are passed on through it; on a terminal they go straight there, as they come.
        captured = sys.stdout is not sys.__stdout__
        child = subprocess.run(command, check=True, env=env, text=True,
                               stdout=subprocess.PIPE if captured else None)
        if captured:
            print(child.stdout, end="")
        result = json.loads(handoff.read_text())["result"]
    print(f"test accuracy: {result['test_accuracy']:.2%} ({result['backend']})")
    cap = (f"capped at its own use plus {result['budget_mib']:.0f} MiB" if result["capped"]
           else "not capped (JAX, or not Linux)")
    print(f"data {result['data_mib']:.0f} MiB; training process {cap}; "
          f"peak resident memory {result['peak_rss_mib']:.0f} MiB")
    args.out.mkdir(parents=True, exist_ok=True)
    ax = plot_history(result["history"], pyplot().subplots(figsize=(6, 4))[1],
                      title="Out-of-core training")
    result["plots"] = [str(save(ax.figure, args.out / "out_of_core_loss.png"))]
    print("wrote", result["plots"][0])
    return result


if __name__ == "__main__":
    main()
