"""Resolving backends, devices and dtypes; moving data; same seed, same model everywhere."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import READONLY, host

from agnostic_mlp import MLP, BackendUnavailableError, get_backend
from agnostic_mlp.backends import to_numpy


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"backend must be one of .*'numpy'.*got 'tensorflow'"):
        MLP(2, [3], 1, backend="tensorflow")


def test_missing_backend_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` fail
    with pytest.raises(BackendUnavailableError,
                       match=r"pip install cupy-cuda12x \(agnostic_mlp's extra \[cupy\]\)"):
        MLP(2, [3], 1, backend="cupy")


@pytest.mark.parametrize("dtype", ["float16", "int32", "double", None])
def test_unknown_dtype(dtype):
    with pytest.raises(ValueError, match="dtype must be one of"):
        MLP(2, [3], 1, dtype=dtype)


def test_unknown_device(backend):
    with pytest.raises(ValueError, match="device"):
        MLP(2, [3], 1, backend=backend, device="no-such-device")


def test_namespace_module_is_accepted(backend, device, xp):
    import array_api_compat

    wrapped = array_api_compat.array_namespace(xp.empty(0))
    for module in (xp, wrapped) if backend != READONLY else (xp,):  # its arrays are NumPy's
        mlp = MLP(2, [3], 1, backend=module, device=device, seed=0)
        assert mlp.backend == backend
        assert mlp.xp is xp


def test_defaults(backend, device, xp):
    mlp = MLP(2, [5], 1, backend=backend, device=device)
    assert mlp.dtype == xp.float32
    assert all(w.dtype == xp.float32 for w in mlp.weights + mlp.biases)
    assert [tuple(b.shape) for b in mlp.biases] == [(5,), (1,)]


def test_on_cpu_and_writeable(backend, device):
    from agnostic_mlp.backends import writeable

    b = get_backend(backend, device)
    assert b.on_cpu == (backend != "cupy" and "cuda" not in str(b.device))
    mlp = MLP(2, [5], 1, backend=backend, device=device)
    assert writeable(mlp.weights[0]) == (backend not in ("jax", READONLY))


def test_predict_returns_the_backends_array_on_its_device(backend, device, xp):
    import array_api_compat

    mlp = MLP(2, [5], 1, backend=backend, device=device, seed=0)
    y = mlp.predict([[0.1, 0.2], [0.3, 0.4]])
    assert mlp.runtime.owns(y)
    assert array_api_compat.array_namespace(y) is array_api_compat.array_namespace(
        xp.empty(0))
    assert array_api_compat.device(y) == mlp.device
    assert tuple(y.shape) == (2, 1)


def test_same_seed_same_initial_weights_on_every_backend(backend, device):
    ref = MLP(3, [4, 5], 2, seed=11, dtype="float64")
    other = MLP(3, [4, 5], 2, backend=backend, device=device, seed=11, dtype="float64")
    for a, b in zip(ref.parameters(), other.parameters(), strict=True):
        np.testing.assert_array_equal(host(a), host(b))
    ref32 = MLP(3, [4, 5], 2, seed=11)
    other32 = MLP(3, [4, 5], 2, backend=backend, device=device, seed=11)
    for a, b in zip(ref32.parameters(), other32.parameters(), strict=True):
        np.testing.assert_array_equal(host(a), host(b))


def test_inputs_from_lists_numpy_and_the_backend(backend, device, xp):
    mlp = MLP(2, [3], 1, backend=backend, device=device, seed=0)
    rows = [[0.1, 0.2], [0.3, 0.4]]
    from_list = host(mlp.predict(rows))
    from_numpy = host(mlp.predict(np.array(rows)))
    from_backend = host(mlp.predict(xp.asarray(rows, device=mlp.device)))
    np.testing.assert_array_equal(from_list, from_numpy)
    np.testing.assert_array_equal(from_list, from_backend)


def test_to_numpy_round_trip(backend, device):
    b = get_backend(backend, device, "float64")
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(to_numpy(b.asarray(x)), x)
