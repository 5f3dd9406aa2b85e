"""Weight initialisers, drawn on the host so every backend starts identically.

Each takes a ``numpy.random.Generator`` and a layer's fan-in and fan-out and
returns a float64 NumPy array; the model casts it and moves it to its device.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from .constraints import short
from .data import check_cast
from .errors import InvalidArgumentError

__all__ = ["INITIALIZERS", "Initializer", "default_init", "draw", "get_initializer"]

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
    raise InvalidArgumentError(
        f"init must be one of {sorted(INITIALIZERS)} or a callable, got {short(init)}")


def draw(rng: np.random.Generator, layers: Sequence[int], activation_names: Sequence[str],
         init: str | Initializer | None, bias: bool, dtype: str = "float64",
         ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Initial weights and biases (zeros) as host arrays; each layer's init suits its activation.

    Raises
    ------
    InvalidArgumentError
        If a callable ``init`` returns anything but a finite real array of the layer's
        shape, or values the model's ``dtype`` would make infinite.
    """
    weights = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(layers)):
        initializer = get_initializer(init if init is not None else
                                      default_init(activation_names[i]))
        w = initializer(rng, fan_in, fan_out)
        try:
            w = np.asarray(w)
        except Exception:
            w = np.asarray(None)
        if w.shape != (fan_in, fan_out) or w.dtype.kind not in "iuf" or not np.isfinite(w).all():
            raise InvalidArgumentError(
                f"init returned {short(w)} for layer {i}; it must return finite real numbers "
                f"of shape {(fan_in, fan_out)}")
        if w.size:
            check_cast(w.min(), w.max(), dtype, f"init's result for layer {i}",
                       "return smaller values or use dtype='float64'")
        weights.append(w)
    biases = [np.zeros(fan_out) for fan_out in layers[1:]] if bias else []
    return weights, biases
