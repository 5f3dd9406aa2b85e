"""Weight initialisers, drawn on the host so every backend starts identically.

Each takes a ``numpy.random.Generator`` and a layer's fan-in and fan-out and
returns a float64 NumPy array; the model casts it and moves it to its device.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["INITIALIZERS", "default_init", "get_initializer"]

Initializer = Callable[[np.random.Generator, int, int], np.ndarray]


def uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """The tutorial's ``np.random.rand``: uniform on [0, 1)."""
    return rng.random((fan_in, fan_out))


def glorot(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot (Xavier) uniform, for sigmoid, tanh and linear layers."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out))


def he(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """He (Kaiming) normal, for ReLU-like layers."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))


INITIALIZERS: dict[str, Initializer] = {"uniform": uniform, "glorot": glorot, "he": he}


def default_init(activation_name: str) -> str:
    """The sensible initialiser for a hidden activation: He for ReLUs, else Glorot."""
    return "he" if activation_name in ("relu", "leaky_relu") else "glorot"


def get_initializer(init: str | Initializer) -> Initializer:
    """An initialiser from its name, or a callable ``(rng, fan_in, fan_out) -> ndarray``."""
    if callable(init):
        return init
    if isinstance(init, str) and init in INITIALIZERS:
        return INITIALIZERS[init]
    raise ValueError(f"init must be one of {sorted(INITIALIZERS)} or a callable, got {init!r}")
