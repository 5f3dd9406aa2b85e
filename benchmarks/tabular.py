"""agnostic_mlp on PyTorch against a plain PyTorch loop, on small tabular data sets.

The data sets are scikit-learn's bundled ones (iris, wine, breast_cancer,
digits), standardised, in float32. Both train a softmax network with one
hidden ReLU layer of 100 units with Adam (learning rate 1e-3), batches of 200
in a fresh order every epoch, for ``--epochs`` epochs per measurement:

- ``agnostic_mlp[torch]``: ``MLP(..., backend="torch").fit(X, y, epochs=E, batch_size=200)``
  on tensors already on the device;
- ``plain torch``: ``nn.Sequential(nn.Linear, nn.ReLU, nn.Linear)``,
  ``nn.CrossEntropyLoss``, ``torch.optim.Adam`` (PyTorch's defaults), with
  ``zero_grad``, ``backward`` and ``step`` per batch and the epoch's loss read
  once per epoch, as ``fit`` does.

They take turns, ``--repeats`` times, in one process; the report is each one's
median time per epoch and their ratio (below 1: agnostic_mlp is faster)::

    python benchmarks/tabular.py --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

DATA_SETS = ("iris", "wine", "breast_cancer", "digits")


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Standardised float32 features and integer labels."""
    from sklearn import datasets

    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return ((x - x.mean(axis=0)) / std).astype(np.float32), y.astype(np.int64)


def ours(x: np.ndarray, y: np.ndarray, epochs: int, device: str) -> Callable[[], None]:
    """``epochs`` epochs of agnostic_mlp's fit on PyTorch."""
    import torch

    from agnostic_mlp import MLP, Adam

    k = int(y.max()) + 1
    model = MLP(x.shape[1], [100], k, backend="torch", device=device, seed=0,
                activation="relu", loss="categorical_cross_entropy", optimizer=Adam(1e-3))
    xt, yt = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)

    def run() -> None:
        model.fit(xt, yt, epochs=epochs, batch_size=200, verbose=0)
        if device != "cpu":
            torch.cuda.synchronize()

    return run


def plain(x: np.ndarray, y: np.ndarray, epochs: int, device: str) -> Callable[[], None]:
    """``epochs`` epochs of the plain PyTorch loop."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    k = int(y.max()) + 1
    net = nn.Sequential(nn.Linear(x.shape[1], 100), nn.ReLU(), nn.Linear(100, k)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)
    n = x.shape[0]

    def run() -> None:
        for _ in range(epochs):
            order = torch.randperm(n, device=device)
            total = torch.zeros((), device=device)
            for lo in range(0, n, 200):
                idx = order[lo:lo + 200]
                opt.zero_grad()
                loss = loss_fn(net(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                total += loss.detach() * idx.shape[0]
            float(total)  # the epoch's loss, once

    return run


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Command line; returns the rows it prints."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="PyTorch's threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", default=",".join(DATA_SETS))
    args = parser.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    print(f"{'data set':<15}{'samples':>8}{'agnostic_mlp ms/epoch':>23}"
          f"{'plain ms/epoch':>16}{'ratio':>8}")
    for name in args.data.split(","):
        x, y = load(name)
        runs = {"ours": ours(x, y, args.epochs, args.device),
                "plain": plain(x, y, args.epochs, args.device)}
        for run in runs.values():
            run()  # warm up
        times: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.repeats):
            for key in list(runs)[r % 2:] + list(runs)[:r % 2]:
                start = time.perf_counter()
                runs[key]()
                times[key].append((time.perf_counter() - start) / args.epochs)
        a, b = (statistics.median(times[k]) for k in ("ours", "plain"))
        ratio = statistics.median(ta / tb for ta, tb in zip(times["ours"], times["plain"],
                                                             strict=True))
        rows.append({"data": name, "samples": len(y), "ours_ms": a * 1e3, "plain_ms": b * 1e3,
                     "ratio": ratio})
        print(f"{name:<15}{len(y):>8}{a * 1e3:>23.3f}{b * 1e3:>16.3f}{ratio:>8.2f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
