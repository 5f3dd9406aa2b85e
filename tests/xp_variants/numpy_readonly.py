"""NumPy whose every function returns read-only arrays.

As array-api-extra's ``NUMPY_READONLY``: a library that writes into an array
it was given, or into one a namespace function made (an in-place operator on
a parameter, a gradient, ...), fails here, as it would give wrong results on
JAX, whose arrays cannot be written. Arrays made by operators (``a + b``) stay
writeable, as in NumPy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__: list[str] = []


def _frozen(out: Any, inputs: tuple[Any, ...]) -> Any:
    if isinstance(out, np.ndarray):
        if any(out is x for x in inputs):  # never change the caller's own array
            out = out.view()
        out.flags.writeable = False
        return out
    if isinstance(out, tuple):
        return tuple(_frozen(o, inputs) for o in out)
    return out


def _wrapped(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def read_only(*args: Any, **kwargs: Any) -> Any:
        return _frozen(fn(*args, **kwargs), args)

    return read_only


def __getattr__(name: str) -> Any:
    obj = getattr(np, name)
    if name.startswith("__") or isinstance(obj, type) or not callable(obj):
        return obj  # dtypes, constants, submodules, __array_namespace_info__'s class
    return _wrapped(obj)


def __array_namespace_info__() -> Any:  # noqa: N807
    return np.__array_namespace_info__()
