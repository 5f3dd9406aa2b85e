"""The benchmark workloads: network shapes, batch sizes and their synthetic data.

Every workload trains a network of sigmoid layers (hidden and output) on the
mean squared error with plain SGD. Data is drawn with ``numpy.random.default_rng``
directly in the workload's dtype, so no float64 copy is ever made of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

import numpy as np

__all__ = ["WORKLOADS", "Workload", "initial_weights", "make_data", "select_workloads"]


@dataclass(frozen=True)
class Workload:
    """One network shape trained on one synthetic data set.

    Attributes
    ----------
    name : str
        Unique name, such as ``"medium-f32"``.
    family : str
        ``"small"``, ``"medium"`` or ``"large"``; selects the synthetic data.
    layers : tuple of int
        Layer widths, inputs first and outputs last.
    batch_size : int
        Samples per SGD step.
    n_samples : int
        Samples in one epoch of the full benchmark.
    quick_samples : int
        Samples in one epoch with ``--quick``.
    dtype : str
        ``"float32"`` or ``"float64"``.
    bias : bool
        Whether layers have biases (the tutorial's have none).
    learning_rate : float
        SGD step size (it does not change the cost of a step).
    min_steps : int
        Fewest steps a measurement may be cut to when an epoch is too slow.
    """

    name: str
    family: str
    layers: tuple[int, ...]
    batch_size: int
    n_samples: int
    quick_samples: int
    dtype: str
    bias: bool
    learning_rate: float
    min_steps: int = 1

    def samples(self, quick: bool) -> int:
        """Samples in one epoch, full or ``--quick``."""
        return self.quick_samples if quick else self.n_samples

    def epoch_steps(self, n_samples: int) -> int:
        """SGD steps in one epoch over ``n_samples`` (the last batch may be partial)."""
        return -(-n_samples // self.batch_size)

    @property
    def n_params(self) -> int:
        """Number of weights (and biases, when the workload has them)."""
        pairs = pairwise(self.layers)
        return sum(i * o + (o if self.bias else 0) for i, o in pairs)

    @property
    def itemsize(self) -> int:
        """Bytes per number."""
        return np.dtype(self.dtype).itemsize

    def flops_per_sample(self) -> int:
        """Floating-point operations of the matrix products of one sample's step.

        Forward, weight gradients and delta backpropagation: ``2 * in * out``
        each, the last for every layer but the first.
        """
        pairs = list(pairwise(self.layers))
        mac = sum(i * o for i, o in pairs) * 2 + sum(i * o for i, o in pairs[1:])
        return 2 * mac

    def describe(self) -> dict[str, Any]:
        """The workload as plain data, for the JSON report."""
        out = asdict(self)
        out["layers"] = list(self.layers)
        out["n_params"] = self.n_params
        out["flops_per_sample"] = self.flops_per_sample()
        return out


_SMALL = (2, 5, 1)
_MEDIUM = (784, 256, 128, 10)
_LARGE = (1024, 4096, 4096, 1024)

#: Every workload, in the order they run and are reported.
WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        # The tutorial's add-two-numbers net, one sample per step and no biases.
        *(Workload(f"small-b1-f{d[-2:]}", "small", _SMALL, batch_size=1, n_samples=1_000,
                   quick_samples=200, dtype=d, bias=False, learning_rate=0.1)
          for d in ("float32", "float64")),
        *(Workload(f"small-b32-f{d[-2:]}", "small", _SMALL, batch_size=32, n_samples=1_000,
                   quick_samples=320, dtype=d, bias=True, learning_rate=0.1)
          for d in ("float32", "float64")),
        *(Workload(f"medium-f{d[-2:]}", "medium", _MEDIUM, batch_size=128, n_samples=60_000,
                   quick_samples=2_048, dtype=d, bias=True, learning_rate=0.1)
          for d in ("float32", "float64")),
        # --quick trains it on one partial batch: a full one takes seconds here.
        Workload("large-f32", "large", _LARGE, batch_size=512, n_samples=8_192,
                 quick_samples=32, dtype="float32", bias=True, learning_rate=0.01,
                 min_steps=2),
    ]
}


def select_workloads(patterns: Iterable[str] | None) -> list[Workload]:
    """Workloads whose name equals, or starts with, one of ``patterns`` (all when None).

    Raises
    ------
    ValueError
        If a pattern matches no workload.
    """
    if not patterns:
        return list(WORKLOADS.values())
    chosen: list[Workload] = []
    for pattern in patterns:
        found = [w for w in WORKLOADS.values() if w.name == pattern or w.name.startswith(pattern)]
        if not found:
            raise ValueError(f"no workload matches {pattern!r}; known: {', '.join(WORKLOADS)}")
        chosen += [w for w in found if w not in chosen]
    return [w for w in WORKLOADS.values() if w in chosen]


def make_data(workload: Workload, n_samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic inputs and targets, ``(n_samples, inputs)`` and ``(n_samples, outputs)``.

    ``small`` adds two numbers in [0, 0.5), as the tutorial; ``medium`` maps
    uniform "pixels" to one-hot labels of 10 classes; ``large`` maps uniform
    inputs to uniform targets in [0, 1).
    """
    rng = np.random.default_rng(seed)
    dtype = np.dtype(workload.dtype)
    n_in, n_out = workload.layers[0], workload.layers[-1]
    x = rng.random((n_samples, n_in), dtype=dtype)
    if workload.family == "small":
        x /= 2
        y = np.sum(x, axis=1, keepdims=True)
    elif workload.family == "medium":
        labels = rng.integers(0, n_out, n_samples)
        y = np.zeros((n_samples, n_out), dtype=dtype)
        y[np.arange(n_samples), labels] = 1
    else:
        y = rng.random((n_samples, n_out), dtype=dtype)
    return x, y


def initial_weights(workload: Workload, seed: int = 0) -> list[np.ndarray]:
    """Glorot-uniform ``(n_in, n_out)`` weight matrices in the workload's dtype."""
    rng = np.random.default_rng(seed)
    out = []
    for n_in, n_out in pairwise(workload.layers):
        limit = math.sqrt(6.0 / (n_in + n_out))
        out.append(rng.uniform(-limit, limit, (n_in, n_out)).astype(workload.dtype))
    return out
