"""Casts never make a finite value infinite; every dtype of every backend is taken or
refused naming the argument; messages name the arguments of the method called; a
failed save or load names the user's path, whatever the errno.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import host

import agnostic_mlp
from agnostic_mlp import MLP, Adam, InvalidArgumentError
from agnostic_mlp.optimizers import AdamState

ROOT = str(Path(agnostic_mlp.__file__).parent.parent)
F32_MAX = float(np.finfo(np.float32).max)
# The largest float64 that still rounds to float32's largest, and the next one up.
ROUNDS_DOWN = float(np.nextafter(F32_MAX * (1 + 2**-25), 0.0))  # below the halfway point
OVERFLOWS = F32_MAX * (1 + 2**-24)


def _wide_model(value: float, where: str = "weights") -> MLP:
    model = MLP(2, [3], 1, seed=0, dtype="float64")
    arrays = [host(a) for a in getattr(model, where)]
    arrays[-1][0, ...] = value
    setattr(model, where, arrays)
    return model


# -- 2: narrowing casts ------------------------------------------------------------------


@pytest.mark.parametrize("where", ["weights", "biases"])
def test_loading_as_float32_refuses_a_weight_float32_cannot_hold(tmp_path, backend, device,
                                                                   where):
    path = tmp_path / "m.safetensors"
    _wide_model(1e300, where).save(path)
    with pytest.raises(InvalidArgumentError,
                       match=rf"{where}\[1\] of {re.escape(str(path))} holds values up to "
                             r"1e\+300, beyond float32's range.*dtype='float64'"):
        MLP.load(path, backend=backend, device=device, dtype="float32")
    wide = MLP.load(path, backend=backend, device=device)
    assert host(getattr(wide, where)[1]).max() == 1e300


def test_loading_as_float32_rounds_as_the_cast_does(tmp_path, backend, device):
    """A value past float32's largest that rounds down to it loads; one that rounds up
    to infinity is refused: the rule is the cast's, not a bound near it."""
    path = tmp_path / "m.safetensors"
    _wide_model(-ROUNDS_DOWN).save(path)
    narrow = MLP.load(path, backend=backend, device=device, dtype="float32")
    assert host(narrow.weights[1]).min() == -F32_MAX
    assert all(np.isfinite(host(p)).all() for p in narrow.parameters())
    _wide_model(-OVERFLOWS).save(path)
    with pytest.raises(InvalidArgumentError, match=r"weights\[1\].*float32"):
        MLP.load(path, backend=backend, device=device, dtype="float32")


def test_assigned_weights_round_as_the_cast_does(backend, device):
    model = MLP(2, [3], 1, seed=0, backend=backend, device=device)
    weights = [host(w).astype(np.float64) for w in model.weights]
    weights[0][0, 0] = ROUNDS_DOWN
    model.weights = weights
    assert host(model.weights[0])[0, 0] == F32_MAX
    weights[0][0, 0] = OVERFLOWS
    with pytest.raises(InvalidArgumentError, match=r"weights\[0\] holds values up to .* "
                                                    r"beyond float32's range"):
        model.weights = weights
    assert host(model.weights[0])[0, 0] == F32_MAX  # left as it was


def test_to_refuses_optimizer_state_the_models_dtype_cannot_hold():
    """A custom optimizer may keep float64 state on a float32 model: ``to`` casts it."""
    model = MLP(2, [3], 1, seed=0, optimizer=Adam())
    shapes = model.config.param_shapes()
    state = AdamState(step=1, m=tuple(np.zeros(s) for s in shapes),
                      v=tuple(np.full(s, 1e300) for s in shapes))
    model.optimizer.state = state
    with pytest.raises(InvalidArgumentError, match=r"the optimizer's v\[0\] holds values up "
                                                    r"to 1e\+300, beyond float32's range"):
        model.to("numpy")
    model.optimizer.state = AdamState(step=1, m=state.m, v=tuple(np.ones(s) for s in shapes))
    moved = model.to("numpy")
    assert moved.optimizer.state.v[0].dtype == np.float32


def test_a_custom_init_float32_cannot_hold_is_refused_naming_init():
    def huge(rng: Any, fan_in: int, fan_out: int) -> np.ndarray:
        return np.full((fan_in, fan_out), 1e300)

    with pytest.raises(InvalidArgumentError, match=r"^init's result for layer 0 holds values "
                                                    r"up to 1e\+300, beyond float32's range"):
        MLP(2, [3], 1, init=huge)
    assert host(MLP(2, [3], 1, init=huge, dtype="float64").weights[0]).max() == 1e300


def test_a_long_double_beyond_float64_is_refused_as_out_of_range_not_as_infinite():
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is float64 here")
    x = np.ones((2, 2), dtype=np.longdouble)
    x[0, 0] = np.longdouble(np.finfo(np.float64).max) * 4
    with pytest.raises(ValueError, match=r"X holds values up to .* beyond float32's range"):
        MLP(2, [3], 1).predict(x)


# -- 4: every dtype of every backend -----------------------------------------------------

# Every dtype any backend has; each backend makes the ones it has.
DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "int4", "uint4", "int2", "uint2", "float16", "bfloat16", "float32", "float64",
          "longdouble", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
          "float8_e4m3b11fnuz", "float8_e3m4", "float8_e4m3", "float8_e8m0fnu",
          "float4_e2m1fn", "complex32", "complex64", "complex128", "clongdouble",
          "datetime64", "timedelta64", "object", "str",
          # torch's sub-byte, bit and packed types
          "uint1", "uint3", "uint5", "uint6", "uint7", "int1", "int3", "int5", "int6", "int7",
          "bits8", "bits16", "float4_e2m1fn_x2"]


def _maker(backend: str, device: Any) -> tuple[Any, dict[str, Any]]:
    """``make(values, dtype)``, an array of the backend's own, and the dtypes it has."""
    if backend == "torch":
        import torch

        def make_torch(values: Any, dtype: Any) -> Any:
            values = np.asarray(values, dtype=np.float64)
            try:
                return torch.tensor(values, device=device).to(dtype)
            except (RuntimeError, TypeError):  # made of no float: zeros of the type, then
                return torch.zeros(values.shape, dtype=dtype, device=device)

        return make_torch, {n: getattr(torch, n) for n in DTYPES if hasattr(torch, n)
                            and isinstance(getattr(torch, n), torch.dtype)}
    if backend == "jax":
        import jax.numpy as jnp

        return (lambda values, dtype: jnp.asarray(np.asarray(values, dtype=np.float64))
                .astype(dtype)), {n: getattr(jnp, n) for n in DTYPES if hasattr(jnp, n)
                                  and n not in ("object", "str")}
    if backend == "array_api_strict":
        import array_api_strict as strict

        return (lambda values, dtype: strict.astype(strict.asarray(
            np.asarray(values, dtype=np.float64), device=strict.Device(device)), dtype)), {
                n: getattr(strict, n) for n in DTYPES if hasattr(strict, n)}
    if backend == "cupy":
        import cupy

        return (lambda values, dtype: cupy.asarray(np.asarray(values)).astype(dtype)), {
            n: getattr(cupy, n) for n in DTYPES if hasattr(cupy, n)
            and n not in ("object", "str")}
    # NumPy, and any backend that takes host arrays: NumPy's dtypes and ml_dtypes'.
    import ml_dtypes

    known = {n: np.dtype(n) for n in DTYPES if n in ("datetime64", "timedelta64", "object",
                                                    "str") or hasattr(np, n)}
    known.update({n: np.dtype(getattr(ml_dtypes, n)) for n in DTYPES
                  if hasattr(ml_dtypes, n) and n not in known})
    return (lambda values, dtype: np.asarray(values).astype(dtype)), known


def _outcome(call: Any, name: str) -> str:
    """"ok", or "refused" with a TypeError or ValueError starting with ``name``, or what
    went wrong instead."""
    try:
        call()
    except (TypeError, ValueError) as exc:
        text = str(exc)
        return "refused" if text.startswith(f"{name} ") else f"{type(exc).__name__}: {text}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def _tried(made: tuple[Any, ...], fresh: Any, x: Any) -> tuple[list[str], Any]:
    """Each method given ``made`` (features, targets, two weights of one dtype): what went
    wrong, and predict's result if any."""
    data_x, data_y, w0, w1 = made
    model = fresh()
    got: list[Any] = []
    checks = {
        "predict(X)": (lambda: got.append(host(model.predict(data_x))), "X"),
        # evaluate checks y as fit does (fit's own cast is tried with float16 below).
        "evaluate(X, y) with y": (lambda: model.evaluate(np.asarray(x), data_y), "y"),
        "weights setter": (lambda: setattr(fresh(), "weights", [w0, w1]), "weights[0]"),
    }
    wrong = [f"{what}: {outcome}" for what, (call, name) in checks.items()
             if (outcome := _outcome(call, name)) not in ("ok", "refused")]
    return wrong, got[0] if got else None


def _as_float64(a: Any) -> np.ndarray | None:
    """The values ``a`` holds, as a float64 host array (None if its library cannot say)."""
    from agnostic_mlp.backends import array_namespace

    try:
        xp = array_namespace(a)
        return host(xp.astype(a, xp.float64))
    except (TypeError, ValueError, RuntimeError):
        return None


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # 0 as float8_e8m0fnu
def test_every_dtype_of_the_backend_is_taken_or_refused_naming_the_argument(backend, device):
    make, dtypes = _maker(backend, device)
    x, y = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [1.0, 0.0, 1.0]

    def fresh() -> MLP:
        return MLP(2, [3], 1, seed=0, backend=backend, device=device)

    want = host(fresh().predict(np.asarray(x)))
    wrong = []
    for label, dtype in dtypes.items():
        try:
            made = tuple(make(v, dtype) for v in (x, y, np.ones((2, 3)), np.ones((3, 1))))
        except (TypeError, ValueError, RuntimeError):
            continue  # not made from these values (datetimes from floats)
        problems, predicted = _tried(made, fresh, x)
        wrong += [f"{label} {p}" for p in problems]
        # What the array holds (int1 holds no 1), to compare with.
        held = None if predicted is None else _as_float64(made[0])
        if held is not None:
            expected = want if np.array_equal(held, x) else host(fresh().predict(held))
            np.testing.assert_allclose(predicted, expected, rtol=1e-6, err_msg=label)
        if label == "bfloat16":  # the case: taken, as float16 is
            assert predicted is not None, f"{backend} refused bfloat16"
    assert wrong == []
    # The same values in another dtype train to the same weights.
    if "float16" in dtypes:
        trained, wide = fresh(), fresh()
        wide.fit(np.asarray(x), np.asarray(y), epochs=1, batch_size=3, shuffle=False,
                 verbose=0)
        trained.fit(make(x, dtypes["float16"]), make(y, dtypes["float16"]), epochs=1,
                    batch_size=3, shuffle=False, verbose=0)
        for got_w, want_w in zip(trained.weights, wide.weights, strict=True):
            np.testing.assert_allclose(host(got_w), host(want_w), rtol=1e-6)


# -- 5: messages name the arguments of the method called ---------------------------------


X6, Y6 = np.ones((6, 2)), np.ones(6)


def _tutorial() -> MLP:
    model = MLP(2, [3], 1, seed=0)
    model.forward_propagate(np.ones(2))
    return model


NAMED = [
    ("train: targets' rows", lambda: _tutorial().train(X6, Y6[:4], 1, 0.1, verbose=False),
     ["targets", "inputs"], ["X", "y"]),
    ("train: targets' width", lambda: _tutorial().train(X6, np.ones((6, 3)), 1, 0.1,
                                                        verbose=False), ["targets"], ["y"]),
    ("train: inputs' width", lambda: _tutorial().train(np.ones((6, 3)), Y6, 1, 0.1,
                                                       verbose=False), ["inputs"], ["X"]),
    ("back_propagate: error's width", lambda: _tutorial().back_propagate(np.ones(3)),
     ["error", "num_outputs"], ["num_inputs", "features"]),
    ("back_propagate: error's shape", lambda: _tutorial().back_propagate(np.ones((2, 2, 2))),
     ["error", "n_outputs"], ["n_features"]),
    ("fit: y's rows", lambda: _tutorial().fit(X6, Y6[:4], verbose=0), ["y", "X"], []),
    ("fit: validation_data's rows", lambda: _tutorial().fit(
        X6, Y6, validation_data=(X6, Y6[:3]), verbose=0),
     ["validation_data[1]", "validation_data[0]"], ["X", "y"]),
    ("evaluate: y's rows", lambda: _tutorial().evaluate(X6, Y6[:4]), ["y", "X"], []),
    ("score: y's rows", lambda: _tutorial().score(X6, Y6[:4]), ["y", "X"], []),
]


@pytest.mark.parametrize(("call", "named", "unnamed"), [case[1:] for case in NAMED],
                         ids=[case[0] for case in NAMED])
def test_every_message_names_the_arguments_of_the_method_called(call, named, unnamed):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    text = str(info.value)
    words = set(re.findall(r"[\w\[\]]+", text))
    assert set(named) <= words, text
    assert not set(unnamed) & words, text


# -- 6: a full disk names the user's path -------------------------------------------------


ERRNOS = [errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO]


def _failing_write(monkeypatch: pytest.MonkeyPatch, code: int, where: str) -> None:
    """``where`` fails with ``code`` as the system fails it: an OSError naming no file."""
    def fail() -> None:
        raise OSError(code, os.strerror(code))

    if where == "write":  # after part of the bytes went out, as on a disk filling up
        real_fdopen = os.fdopen

        class Partial:
            def __init__(self, f: Any) -> None:
                self.f = f

            def __enter__(self) -> Partial:
                return self

            def __exit__(self, *exc: object) -> None:
                self.f.close()

            def write(self, data: bytes) -> None:
                self.f.write(data[:10])
                self.f.flush()
                fail()

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: Partial(real_fdopen(fd, mode)))
    elif where in ("fsync file", "fsync folder"):
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            if os.path.isdir(f"/proc/self/fd/{fd}") == (where == "fsync folder"):
                fail()
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
    else:  # a rename names the temporary file and the resolved target
        def replace(src: str, dst: str) -> None:
            raise OSError(code, os.strerror(code), src, None, dst)

        monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("where", ["write", "fsync file", "fsync folder", "replace"])
@pytest.mark.parametrize("code", ERRNOS, ids=[errno.errorcode[c] for c in ERRNOS])
def test_a_full_disk_names_the_users_path_for_every_errno(tmp_path, monkeypatch, code, where):
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to tell a folder's descriptor")
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    path = tmp_path / "link" / "m.safetensors"  # the user's path, not the resolved one
    MLP(2, [3], 1, seed=1).save(path)
    before = path.read_bytes()
    _failing_write(monkeypatch, code, where)
    with pytest.raises(OSError) as info:
        MLP(2, [3], 1, seed=2).save(path)
    monkeypatch.undo()
    exc = info.value
    assert exc.errno == code and exc.filename == str(path) and exc.filename2 is None
    assert str(path) in str(exc) and ".tmp" not in str(exc)
    assert str(tmp_path / "real") not in str(exc)
    assert os.listdir(tmp_path / "real") == ["m.safetensors"]  # no temporary left
    if where != "fsync folder":  # the folder's fsync comes after the rename
        assert path.read_bytes() == before


def test_a_real_file_size_limit_names_the_users_path(tmp_path):
    """The kernel's own EFBIG, from a write past RLIMIT_FSIZE, in a child process."""
    resource = pytest.importorskip("resource")
    del resource
    path = tmp_path / "m.safetensors"
    script = textwrap.dedent(f"""
        import errno, resource, signal
        from agnostic_mlp import MLP
        model = MLP(2, [3000], 1)  # 48 kB: past the limit
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        try:
            model.save({str(path)!r})
        except OSError as exc:
            assert exc.errno == errno.EFBIG, exc
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": ROOT})
    assert out.returncode == 0, out.stderr
    assert str(path) in out.stdout and ".tmp" not in out.stdout, out.stdout
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("code", ERRNOS, ids=[errno.errorcode[c] for c in ERRNOS])
def test_a_failing_read_names_the_users_path(tmp_path, monkeypatch, code):
    path = tmp_path / "m.safetensors"
    MLP(2, [3], 1).save(path)
    real_pread = os.pread

    def pread(fd: int, n: int, offset: int) -> bytes:
        if offset > 8:  # the header's length reads, then the disk fails
            raise OSError(code, os.strerror(code))
        return real_pread(fd, n, offset)

    monkeypatch.setattr(os, "pread", pread)
    with pytest.raises(OSError) as info:
        MLP.load(path)
    assert info.value.errno == code and info.value.filename == str(path)
    assert f"while reading {path}" in str(info.value)


@pytest.mark.parametrize("code", [errno.EIO, errno.EACCES])
def test_a_checkpoint_path_that_cannot_be_checked_is_named_as_given(tmp_path, monkeypatch,
                                                                     code):
    """fit checks its checkpoint's path first: a failing stat of the resolved target
    names the path the user gave, not the file a link resolves to."""
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    path = tmp_path / "link" / "run.ckpt"
    resolved = str(tmp_path / "real" / "run.ckpt")
    real_stat = os.stat

    def stat(target: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(target) == resolved:
            raise OSError(code, os.strerror(code), resolved)
        return real_stat(target, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    with pytest.raises(OSError) as info:
        MLP(2, [3], 1).fit(X6, Y6, verbose=0, checkpoint=path)
    monkeypatch.undo()
    assert info.value.errno == code and info.value.filename == str(path)
    assert resolved not in str(info.value) and "while checking" in str(info.value)


def test_a_checkpoint_replaced_by_a_folder_mid_run_is_named_as_fits_argument(tmp_path):
    """At an epoch's end the refusal names ``checkpoint``, fit's argument, not ``path``."""
    path = tmp_path / "run.ckpt"

    def swap(model: Any, epoch: int, logs: Any) -> None:
        if epoch == 1:  # runs before the checkpoint's own epoch end
            path.unlink()
            path.mkdir()

    with pytest.raises(InvalidArgumentError, match=r"^checkpoint='.*run\.ckpt' is a folder"):
        MLP(2, [3], 1).fit(X6, Y6, epochs=3, verbose=0, checkpoint=path, callbacks=swap)


# -- the class of 2 and 4 in the estimators, and another library's arrays on the host ----


def _names(call: Any, name: str) -> str:
    """"ok", or "refused" with a TypeError or ValueError naming ``name``, or what went
    wrong instead."""
    try:
        call()
    except (TypeError, ValueError) as exc:
        text = str(exc)
        return "refused" if re.search(rf"(^|\W){re.escape(name)}\W", text) else (
            f"{type(exc).__name__}: {text}")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def _foreign_calls(model: MLP, estimator: Any, x: np.ndarray, y: np.ndarray, fx: Any, fy: Any,
                   fw: Any) -> dict[str, tuple[Any, str]]:
    """Each call given one foreign array (``fx``, ``fy``, ``fw``), and the argument it is."""
    from agnostic_mlp import MLPRegressor

    return {
        "MLP.predict(X)": (lambda: model.predict(fx), "X"),
        "MLP.fit(X)": (lambda: MLP(2, [3], 1).fit(fx, y, epochs=1, verbose=0), "X"),
        "MLP.fit(y)": (lambda: MLP(2, [3], 1).fit(x, fy, epochs=1, verbose=0), "y"),
        "MLP.fit(sample_weight)": (lambda: MLP(2, [3], 1).fit(
            x, y, sample_weight=fw, epochs=1, verbose=0), "sample_weight"),
        "estimator.predict(X)": (lambda: estimator.predict(fx), "X"),
        "estimator.fit(X)": (lambda: MLPRegressor(max_iter=1).fit(fx, y), "X"),
        "estimator.fit(y)": (lambda: MLPRegressor(max_iter=1).fit(x, fy), "y"),
        "estimator.fit(sample_weight)": (lambda: MLPRegressor(max_iter=1).fit(
            x, y, sample_weight=fw), "sample_weight"),
    }


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")
@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")  # ConvergenceWarning
@pytest.mark.parametrize("library", ["torch", "jax", "array_api_strict"])
def test_another_librarys_arrays_of_every_dtype_are_taken_or_refused_naming_the_argument(
        library):
    """A NumPy model and the estimators (outside array_api_dispatch) read another library's
    host arrays as NumPy: bfloat16 and float8, which NumPy lacks, as float32 (exactly);
    what NumPy cannot hold is refused naming the argument, never with the library's own
    error."""
    pytest.importorskip(library)
    sklearn = pytest.importorskip("sklearn")
    del sklearn
    from agnostic_mlp import MLPRegressor

    make, dtypes = _maker(library, "CPU_DEVICE" if library == "array_api_strict" else "cpu")
    x, y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([1.0, 0.0, 1.0])
    w = np.ones(3)
    model = MLP(2, [3], 1, seed=0)
    estimator = MLPRegressor(hidden_layer_sizes=(3,), max_iter=1, random_state=0).fit(x, y)
    wrong, taken = [], []
    for label, dtype in dtypes.items():
        try:
            fx, fy, fw = (make(v, dtype) for v in (x, y, w))
        except (TypeError, ValueError, RuntimeError):
            continue  # not made from these values
        calls = _foreign_calls(model, estimator, x, y, fx, fy, fw)
        for what, (call, name) in calls.items():
            outcome = _names(call, name)
            if outcome not in ("ok", "refused"):
                wrong.append(f"{label} {what}: {outcome}")
            elif outcome == "ok" and what == "MLP.predict(X)":
                taken.append(label)
        if label in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):  # NumPy has none of them
            assert label in taken, f"{label} refused"
            np.testing.assert_allclose(host(model.predict(fx)), host(model.predict(x)),
                                       rtol=1e-6, err_msg=label)
            np.testing.assert_allclose(estimator.predict(fx), estimator.predict(x),
                                       rtol=1e-6, err_msg=label)
    assert wrong == []
    assert "float32" in taken and all(c not in taken for c in ("complex64", "complex128"))


def _narrow_cases() -> dict[str, tuple[Any, str]]:
    """What each estimator call casts to float32, given a value float32 cannot hold."""
    import scipy.sparse as sp

    from agnostic_mlp import MLPClassifier, MLPRegressor

    x, labels = np.random.default_rng(0).normal(size=(12, 2)), np.arange(12) % 2

    def big(a: np.ndarray, value: float) -> np.ndarray:
        a = np.array(a, dtype=np.float64)
        a.flat[5] = value
        return a

    def clf(**kw: Any) -> Any:
        return MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, dtype="float32",
                             random_state=0, **kw)

    def reg() -> Any:
        return MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, dtype="float32",
                            random_state=0)

    fitted = clf().fit(x, labels)
    return {
        "fit X": (lambda v: clf().fit(big(x, v), labels), "X"),
        "fit sparse X": (lambda v: clf().fit(sp.csr_matrix(big(x, v)), labels), "X"),
        "partial_fit X": (lambda v: clf().partial_fit(big(x, v), labels, classes=[0, 1]), "X"),
        "fit y": (lambda v: reg().fit(x, big(labels, v)), "y"),
        "partial_fit y": (lambda v: reg().partial_fit(x, big(labels, v)), "y"),
        "fit sample_weight": (lambda v: clf().fit(x, labels, sample_weight=big(
            np.ones(12), v)), "sample_weight"),
        "predict X": (lambda v: fitted.predict(big(x, v)), "X"),
        "predict_proba sparse X": (lambda v: fitted.predict_proba(sp.csr_matrix(big(x, v))),
                                   "X"),
        "score X": (lambda v: fitted.score(big(x, v), labels), "X"),
    }


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")  # ConvergenceWarning
def test_float32_estimators_refuse_values_float32_cannot_hold_naming_the_argument():
    """scikit-learn's float64 checks pass 1e300; the float32 estimator refuses it as MLP
    does, naming the argument, with the cast's own rounding rule."""
    pytest.importorskip("sklearn")
    wrong = []
    for what, (call, name) in _narrow_cases().items():
        for value in (1e300, -OVERFLOWS):
            try:
                call(value)
            except InvalidArgumentError as exc:
                if not str(exc).startswith(f"{name} holds values up to") or (
                        "beyond float32's range" not in str(exc)):
                    wrong.append(f"{what}, {value:g}: {exc}")
            else:
                wrong.append(f"{what}, {value:g}: taken")
        if name != "sample_weight":  # rounds to float32's largest: taken
            try:
                call(-ROUNDS_DOWN)
            except InvalidArgumentError as exc:
                wrong.append(f"{what}, rounding down: {exc}")
            except ValueError:
                pass  # the training diverged: not the cast's refusal
    assert wrong == []


def test_sample_weights_whose_sum_float32_cannot_hold_are_refused():
    """Every weight fits, their sum (the loss's divisor, summed on the device) does not."""
    pytest.importorskip("sklearn")
    from agnostic_mlp import MLPClassifier

    x, labels = np.random.default_rng(0).normal(size=(12, 2)), np.arange(12) % 2
    heavy = np.full(12, F32_MAX / 4)
    with pytest.raises(InvalidArgumentError, match=r"^sample_weight sums to .*beyond "
                                                    "float32's range"):
        MLPClassifier(max_iter=1, dtype="float32").fit(x, labels, sample_weight=heavy)
    with pytest.raises(InvalidArgumentError, match=r"^sample_weight sums to .*beyond "
                                                    "float32's range"):
        MLP.classifier(2, [3], 2).fit(x, labels, sample_weight=heavy, verbose=0)
    with pytest.raises(InvalidArgumentError, match=r"^class_weight sums to"):
        MLP.classifier(2, [3], 2).fit(x, labels, class_weight={0: F32_MAX}, verbose=0)
    model = MLP.classifier(2, [3], 2, dtype="float64")
    model.fit(x, labels, sample_weight=heavy, epochs=1, verbose=0)  # float64 holds it


@pytest.mark.parametrize("weights", [np.ones(12, dtype=np.complex128), np.array(["1"] * 12)],
                         ids=["complex", "strings"])
def test_sample_weights_that_are_not_real_numbers_are_refused(weights):
    """Complex weights lost their imaginary parts (a ComplexWarning, then training)."""
    x, labels = np.random.default_rng(0).normal(size=(12, 2)), np.arange(12) % 2
    with pytest.raises(InvalidArgumentError, match=r"^sample_weight must be real numbers"):
        MLP.classifier(2, [3], 2).fit(x, labels, sample_weight=weights, verbose=0)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_estimator_weights_whose_sum_float32_cannot_hold_are_refused(solver):
    """Each weight fits float32, their sum does not: refused, naming sample_weight, by
    either driver."""
    pytest.importorskip("sklearn")
    from agnostic_mlp import MLPRegressor

    X = np.random.default_rng(0).normal(size=(8, 2))
    weights = np.full(8, 1e38)
    with pytest.raises(ValueError, match="sample_weight sums to"):
        MLPRegressor(solver=solver, dtype="float32", max_iter=2).fit(X, X[:, 0],
                                                                     sample_weight=weights)
