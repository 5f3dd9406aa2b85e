"""One ``backend`` fixture, parametrised over every backend; unusable ones skip.

``AGNOSTIC_MLP_BACKENDS`` (comma-separated) restricts the run to some backends;
nox's per-backend sessions set it. A test without the fixture runs where NumPy
is selected, or where a backend it names with ``@pytest.mark.needs(...)`` is.
``AGNOSTIC_MLP_DEVICES`` (``torch=cuda,jax=gpu``) puts a backend's models on
another device (the ``gpu`` session runs the PyTorch tests on CUDA).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

# scikit-learn's array_api_dispatch needs scipy's Array API support, which scipy reads
# from the environment when it is first imported: set it before anything imports scipy.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np
import pytest

from agnostic_mlp import BackendUnavailableError
from agnostic_mlp.backends import get_backend

# The revision of the standard the library needs (Python scalars in where, maximum,
# logaddexp): array_api_strict holds it to exactly that, not to its newest.
API_VERSION = "2024.12"
# numpy_readonly: NumPy whose functions return read-only arrays (tests/xp_variants).
READONLY = "xp_variants.numpy_readonly"
ALL = ["numpy", READONLY, "array_api_strict", "torch", "jax", "cupy"]
SELECTED = [b for b in os.environ.get("AGNOSTIC_MLP_BACKENDS", ",".join(ALL)).split(",") if b]
# array_api_strict runs on a non-default device, so any leak to NumPy fails.
DEVICES: dict[str, Any] = {"array_api_strict": "device1"}
DEVICES.update(pair.split("=", 1) for pair in  # type: ignore[misc]
               os.environ.get("AGNOSTIC_MLP_DEVICES", "").split(",") if "=" in pair)

try:
    import array_api_strict

    array_api_strict.set_array_api_strict_flags(api_version=API_VERSION)
except ImportError:
    pass

try:  # gradient checks and parity tests use float64 on every backend
    import jax

    jax.config.update("jax_enable_x64", True)
except ImportError:
    pass


def usable(name: str) -> str | None:
    """None when the backend runs here, else why not."""
    try:
        get_backend(name, DEVICES.get(name))
    except BackendUnavailableError as exc:
        return str(exc)
    return None


def _params(names: list[str]) -> list[Any]:
    out = []
    for name in names:
        reason = usable(name)
        marks = [pytest.mark.skip(reason=f"{name} unavailable: {reason}")] if reason else []
        out.append(pytest.param(name, id=name.rsplit(".", 1)[-1], marks=marks))
    return out


@pytest.fixture(params=_params(SELECTED))
def backend(request: pytest.FixtureRequest) -> str:
    """The name of a usable backend."""
    return str(request.param)


@pytest.fixture
def device(backend: str) -> Any:
    """The device the tests put that backend's models on."""
    return DEVICES.get(backend)


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """Python's own SIGINT handler (KeyboardInterrupt) for the test, whatever the process
    started with: a shell without job control starts its background jobs with SIGINT
    ignored, and Python then leaves it ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def xp(backend: str, device: Any) -> Any:
    """The backend's Array API namespace."""
    return get_backend(backend, device).xp


def host(x: Any) -> np.ndarray:
    """A NumPy copy of any backend's array."""
    from agnostic_mlp.backends import to_numpy

    return np.array(to_numpy(x), copy=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep a test that takes no ``backend`` where NumPy, or a backend it needs, is selected."""
    kept, dropped = [], []
    for item in items:
        needs = item.get_closest_marker("needs")
        wanted = needs.args if needs else ("numpy",)
        uses_fixture = "backend" in getattr(item, "fixturenames", ())
        (kept if uses_fixture or any(b in SELECTED for b in wanted) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
