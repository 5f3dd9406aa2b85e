"""The backends' fused descent (``Backend.fused_descent``) against the pure Array API steps
it replaces."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import host

from agnostic_mlp import MLP, SGD, DivergenceError, get_backend
from agnostic_mlp.backends import Backend, openblas

needs_openblas = pytest.mark.skipif(not openblas.available(),
                                reason="NumPy's bundled OpenBLAS is not found")

# The fused GEMM may add the batch's terms in another order than NumPy's product then
# subtraction; both are within the standard bound k*u*(|a|.T @ |delta| + |w|) of the exact
# update (k = 24 terms, u = 6e-8 or 1.1e-16), so they differ by at most twice that.
# Measured: 0 at these sizes, 2.3e-8 of that scale at 512x1024x4096 in float32.
TOLERANCE = {"float32": 2e-6, "float64": 1e-14}


class _Unfused(SGD):
    """Plain SGD through the optimizer's update: the reference, no descent in place."""

    def update(self, xp, params, grads, state, lr):
        return super().update(xp, params, grads, state, lr)


@needs_openblas
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_blas_descent_is_the_product_subtracted_in_place(dtype, monkeypatch):
    monkeypatch.setattr(openblas, "MIN_ELEMENTS", 0)  # BLAS whatever the size
    rng = np.random.default_rng(0)
    w = rng.normal(size=(37, 11)).astype(dtype)
    a, delta = rng.normal(size=(24, 37)).astype(dtype), rng.normal(size=(24, 11)).astype(dtype)
    expected = w - a.T @ delta
    address = w.ctypes.data
    out = openblas.descend(np, w, a, delta)
    assert out is w and w.ctypes.data == address  # written where w lies: no copy kept
    scale = np.abs(a).T @ np.abs(delta) + np.abs(w)
    assert np.max(np.abs(w - expected) / scale) < TOLERANCE[dtype]
    assert not np.array_equal(w, expected - 1)  # the comparison can fail


@needs_openblas
def test_arrays_blas_cannot_take_as_they_are_still_descend():
    rng = np.random.default_rng(1)
    w = np.asfortranarray(rng.normal(size=(6, 5)))
    a = rng.normal(size=(8, 6))
    delta = rng.normal(size=(5, 8)).T  # a transposed view
    expected = w - a.T @ delta
    assert openblas.descend(np, w, a, delta) is w
    np.testing.assert_allclose(w, expected, rtol=1e-13)
    w32 = np.zeros((6, 5), np.float32)  # another dtype than the operands: NumPy's operators
    openblas.descend(np, w32, a, delta)
    np.testing.assert_allclose(w32, -(a.T @ delta), rtol=1e-6)


@needs_openblas
def test_numpy_is_offered_the_fused_descent_and_other_backends_are_not():
    assert get_backend("numpy").in_place_descent is openblas.descend
    assert get_backend("numpy", dtype="float64").in_place_descent is openblas.descend
    assert get_backend("array_api_strict").in_place_descent is not openblas.descend
    assert get_backend("array_api_strict").fused_descent() is None


@pytest.mark.needs("torch")
def test_torch_on_the_cpu_is_offered_addmm():
    runtime = get_backend("torch", "cpu")
    assert runtime.in_place_descent is runtime.fused_descent() is not None


@needs_openblas
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_blas_descent_with_beta_scales_w_first(dtype, monkeypatch):
    """``beta * w - a.T @ delta``, the momentum buffer's update, through BLAS and through
    NumPy's operators (a layer under MIN_ELEMENTS)."""
    rng = np.random.default_rng(3)
    for minimum in (0, 10**9):
        monkeypatch.setattr(openblas, "MIN_ELEMENTS", minimum)
        w = rng.normal(size=(37, 11)).astype(dtype)
        a, delta = rng.normal(size=(24, 37)).astype(dtype), rng.normal(size=(24, 11)).astype(dtype)
        expected = 0.9 * w - a.T @ delta
        assert openblas.descend(np, w, a, delta, 0.9) is w
        np.testing.assert_allclose(w, expected, rtol=0, atol=2 * TOLERANCE[dtype] * 24)
        empty = np.ones((3, 2), dtype)  # no rows: only the scaling
        openblas.descend(np, empty, np.zeros((0, 3), dtype), np.zeros((0, 2), dtype), 0.5)
        np.testing.assert_array_equal(empty, np.full((3, 2), 0.5, dtype))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fit_with_the_fused_descent_takes_the_reference_steps(backend, device, dtype, momentum,
                                                              monkeypatch):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(48, 7)).astype(dtype), rng.random((48, 3)).astype(dtype)
    runtime = get_backend(backend, device, dtype)
    monkeypatch.setattr(openblas, "MIN_ELEMENTS", 0)  # these small layers through BLAS too
    offered = runtime.fused_descent() if runtime.in_place_descent else None
    calls: list[int] = []
    if offered is not None:
        def counted(xp, w, a, delta, *beta):
            calls.append(1)
            return offered(xp, w, a, delta, *beta)

        monkeypatch.setattr(type(runtime), "fused_descent", lambda self: counted)

    def trained(optimizer: SGD, shuffle: bool) -> list[np.ndarray]:
        mlp = MLP(7, [9, 6], 3, backend=backend, device=device, dtype=dtype, seed=1)
        mlp.fit(x, y, epochs=4, batch_size=8, optimizer=optimizer, shuffle=shuffle, verbose=0)
        # With momentum, its buffers too: the state the next fit continues from.
        return [host(p) for p in [*mlp.parameters(), *optimizer.state.momentum]]

    start = [host(p) for p in MLP(7, [9, 6], 3, dtype=dtype, seed=1).parameters()]
    for shuffle in (False, True):
        reference = trained(_Unfused(0.5, momentum=momentum), shuffle)
        assert not calls
        fused = trained(SGD(0.5, momentum=momentum), shuffle)
        assert len(fused) == (12 if momentum else 6)
        assert len(calls) == (4 * 6 * 3 if offered is not None else 0)  # epochs x batches x layers
        calls.clear()
        assert not np.allclose(reference[0], start[0], atol=1e-3)
        for ref, got in zip(reference, fused, strict=True):
            # 24 steps of rounding differences, each damped or amplified by later steps.
            np.testing.assert_allclose(got, ref, rtol=50 * TOLERANCE[dtype],
                                       atol=50 * TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int64", "bool"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_the_numpy_backend_sum_is_numpys(dtype, axis, keepdims):
    """The NumPy backend's ``sum`` (the ufunc's reduce, called at once) gives what np.sum
    gives: values, dtype and shape, for every argument the standard has."""
    xp = get_backend("numpy").xp
    x = (np.random.default_rng(0).normal(size=(3, 4, 5)) * 10).astype(dtype)
    for kwargs in ({}, {"dtype": np.float64}):
        got = xp.sum(x, axis=axis, keepdims=keepdims, **kwargs)
        want = np.sum(x, axis=axis, keepdims=keepdims, **kwargs)
        assert got.dtype == want.dtype and np.shape(got) == np.shape(want)
        np.testing.assert_array_equal(got, want)
    assert xp.fft.rfft is np.fft.rfft  # NumPy's lazily imported submodules are there


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_a_diverging_fit_with_momentum_keeps_the_weights_and_buffers_before_the_bad_batch(
        backend, device):
    """The fused momentum step writes its buffers in place on CPU backends: a divergence
    still leaves the weights and the optimizer's buffers of the last good batch, those a
    fit of the batches before it leaves."""
    rng = np.random.default_rng(0)
    x = (rng.random((64, 2)) + 1) * 1e3
    y = rng.random(64) * 0.5

    def fit(n: int) -> tuple[MLP, SGD]:
        mlp = MLP(2, [3], 1, backend=backend, device=device, seed=0,
                  output_activation="identity")
        optimizer = SGD(1e34, momentum=0.9)
        mlp.fit(x[:n], y[:n], epochs=1, batch_size=4, optimizer=optimizer, shuffle=False,
                verbose=0)
        return mlp, optimizer

    with pytest.raises(DivergenceError) as info:
        fit(64)
    bad = info.value.batch
    assert 0 < bad < 16
    mlp = MLP(2, [3], 1, backend=backend, device=device, seed=0, output_activation="identity")
    optimizer = SGD(1e34, momentum=0.9)
    with pytest.raises(DivergenceError):
        mlp.fit(x, y, epochs=1, batch_size=4, optimizer=optimizer, shuffle=False, verbose=0)
    replay, replayed = fit(4 * bad)
    for got, want in zip([*mlp.parameters(), *optimizer.state.momentum],
                         [*replay.parameters(), *replayed.state.momentum], strict=True):
        np.testing.assert_array_equal(host(got), host(want))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_fit_out_of_place_takes_the_optimizers_steps(backend, device, momentum, monkeypatch):
    """Where no in-place descent is offered (CuPy, PyTorch on CUDA), the fused step is the
    pure one: with momentum, the optimizer's update bit for bit over many steps (weights
    and buffers), as the delta is only negated; plain SGD to rounding."""
    monkeypatch.setattr(Backend, "in_place_descent", property(lambda self: None))
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 5)), rng.random((40, 2))

    def trained(optimizer: SGD) -> list[np.ndarray]:
        mlp = MLP(5, [7, 4], 2, backend=backend, device=device, dtype="float64", seed=3)
        mlp.fit(x, y, epochs=3, batch_size=8, optimizer=optimizer, verbose=0)
        return [host(p) for p in [*mlp.parameters(), *optimizer.state.momentum]]

    fused, reference = trained(SGD(0.3, momentum)), trained(_Unfused(0.3, momentum))
    for got, want in zip(fused, reference, strict=True):
        if momentum:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_momentum_set_after_the_state_was_made_is_refused_before_training(backend, device):
    x = np.random.default_rng(0).random((8, 2))
    mlp = MLP(2, [3], 1, backend=backend, device=device, seed=0)
    optimizer = SGD(0.1)
    mlp.fit(x, x[:, 0], epochs=1, optimizer=optimizer, verbose=0)
    before = [host(p) for p in mlp.parameters()]
    optimizer.momentum = 0.9
    with pytest.raises(ValueError, match="holds no momentum, which its settings need"):
        mlp.fit(x, x[:, 0], epochs=1, optimizer=optimizer, verbose=0)
    for b, p in zip(before, mlp.parameters(), strict=True):
        np.testing.assert_array_equal(b, host(p))
