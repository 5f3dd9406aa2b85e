"""Everything that differs between array backends, and nothing else.

A backend is named by a string (``"numpy"``, ``"cupy"``, ``"torch"``, ``"jax"``,
``"array_api_strict"``) or given as an Array API namespace module.
:func:`get_backend` turns it into a :class:`Backend`: an ``xp`` namespace
through array-api-compat (imported lazily, so only the backend in use is ever
imported), a device and a dtype. :class:`Backend` serves any namespace as the
standard defines it; each known library has a subclass, in a module of its own,
that adds only what the library offers beyond the standard (entering a GPU,
faster transfers, compiling a whole epoch, page-locked memory). The math of the
library never asks which backend it runs on.
"""

from __future__ import annotations

from .base import DTYPES, Backend, Compiler, array_namespace, dtype_name, writeable
from .inplace import descend_in_place
from .registry import BACKENDS, LIBRARIES, get_backend, on_host, to_numpy

__all__ = [
    "BACKENDS",
    "DTYPES",
    "LIBRARIES",
    "Backend",
    "Compiler",
    "array_namespace",
    "descend_in_place",
    "dtype_name",
    "get_backend",
    "on_host",
    "to_numpy",
    "writeable",
]
