"""Classify scikit-learn's 8x8 digits with one model trained by several processes over MPI.
========================================================================================

Each process holds only its shard of the training images and takes
``--global-batch-size / N`` of them per step; every step the processes sum
their gradients (one allreduce), so N processes train the model that one
process trains with the whole global batch::

    mpiexec -n 2 python examples/distributed_digits.py     # two processes
    python examples/distributed_digits.py                  # one: the same accuracy

The training images are dealt to the processes a global batch at a time: of
each batch of ``--global-batch-size`` rows, process r takes its slice, so the
global batch is every process's batch in rank order. The validation images
are dealt out too; their metrics are summed across processes. Process 0
prints the progress and the test accuracy, and writes the loss curves
(``distributed_digits_loss.png``) to ``--out``. float64 by default, so that
one process and several agree to the last printed digit.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from _shared import parser as shared_parser
from _shared import pyplot, report_test_set, save

from agnostic_mlp import MLP, Adam, BackendUnavailableError, EarlyStopping, History, plot_history
from agnostic_mlp.distributed import MPIDataParallel


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = shared_parser(__doc__, 60,
                           "most training epochs; early stopping may end sooner")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64],
                        help="hidden layer widths (default: 64)")
    parser.add_argument("--global-batch-size", type=int, default=64,
                        help="samples per step over all processes; each takes its share "
                             "(default: 64)")
    parser.add_argument("--learning-rate", type=float, default=2e-3,
                        help="Adam's learning rate (default: 0.002)")
    parser.add_argument("--patience", type=int, default=8,
                        help="epochs without validation improvement before stopping (default: 8)")
    parser.add_argument("--dtype", default="float64", help="float64 (default) or float32")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split and of the weights (default: 0)")
    return parser.parse_args(argv)


def load(seed: int) -> tuple[np.ndarray, ...]:
    """Standardised train, validation and test images and labels, as host arrays."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=seed, stratify=digits.target)
    x_train, x_val, y_train, y_val = train_test_split(
        x_train, y_train, test_size=0.15, random_state=seed, stratify=y_train)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0  # corner pixels that are always blank
    return ((x_train - mean) / std, y_train, (x_val - mean) / std, y_val,
            (x_test - mean) / std, y_test)


def shard(n: int, global_batch: int, rank: int, size: int) -> np.ndarray:
    """Rows of process ``rank``: its slice of every global batch (the last may be short)."""
    batch = global_batch // size
    starts = np.arange(0, n, global_batch) + rank * batch
    return np.concatenate([np.arange(s, min(s + batch, n)) for s in starts if s < n])


def processes() -> Any:
    """An MPIDataParallel when launched by mpiexec with more than one process, else None."""
    try:
        parallel = MPIDataParallel()
    except BackendUnavailableError as error:  # mpi4py is not installed
        print(f"training in one process: {error}")
        return None
    return parallel if parallel.size > 1 else None


def plot(history: History, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    ax = plot_history(history, pyplot().subplots(figsize=(6, 4))[1],
                      title="digits, trained across processes: loss per epoch")
    return save(ax.figure, out / "distributed_digits_loss.png")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    parallel = processes()
    rank, size = (0, 1) if parallel is None else (parallel.rank, parallel.size)
    if args.global_batch_size % size:
        raise SystemExit(f"--global-batch-size {args.global_batch_size} is not a multiple of "
                         f"the {size} processes")
    x_train, y_train, x_val, y_val, x_test, y_test = load(args.seed)
    rows = shard(len(x_train), args.global_batch_size, rank, size)
    val_rows = np.arange(rank, len(x_val), size)
    if rank == 0:
        print(f"digits: {len(x_train)} training images over {size} "
              f"process{'es' if size > 1 else ''} ({len(rows)} on process 0), "
              f"{args.global_batch_size // size} per process per step")

    start = time.perf_counter()
    mlp = MLP(x_train.shape[1], args.hidden, 10, backend=args.backend, device=args.device,
              dtype=args.dtype, seed=args.seed, activation="relu",
              loss="categorical_cross_entropy", optimizer=Adam(learning_rate=args.learning_rate))
    history = mlp.fit(x_train[rows], y_train[rows], epochs=args.epochs,
                      batch_size=args.global_batch_size // size, shuffle=False,
                      validation_data=(x_val[val_rows], y_val[val_rows]),
                      early_stopping=EarlyStopping(patience=args.patience),
                      verbose=0 if args.quiet else 2, parallel=parallel)
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {"processes": size, "epochs": len(history.epoch),
                              "best_epoch": history.best_epoch, "seconds": seconds}
    if rank != 0:  # every process holds the same weights; process 0 reports
        return result
    best = history.best_epoch
    print(f"trained {len(history.epoch)} epochs in {seconds:.1f} s"
          + (f"; kept epoch {best + 1}" if best is not None else ""))
    if parallel is not None:
        comm = parallel.communication()
        print(f"gradients summed over {size} processes: {comm['steps']} allreduces of "
              f"{comm['bytes'] / 1024:.1f} KiB through {comm['path']}, "
              f"{1e6 * comm['seconds'] / max(comm['steps'], 1):.0f} us each on process 0")
    test, _ = report_test_set(mlp, x_test, y_test, 10)
    path = plot(history, args.out)
    print("wrote", path)
    result.update(test_accuracy=test["accuracy"], test_loss=test["loss"], plots=[str(path)])
    return result


if __name__ == "__main__":
    main()
