"""The contenders: everything that trains a workload's network, and the floor.

A contender's ``prepare`` builds its model and moves the data where it computes,
outside the clock, and returns a :class:`Runner` whose ``run(steps)`` performs
``steps`` SGD steps over the first ``steps * batch_size`` samples (a whole
epoch when ``steps`` is the epoch's, with its partial last batch) and returns
only when the device has finished.

Contenders:

``agnostic_mlp[<backend>]``
    ``MLP.fit(epochs=1, shuffle=False, optimizer=SGD(lr), verbose=0)``.
``tutorial``
    The tutorial's per-sample NumPy loop (:mod:`tutorial_reference`); batch 1 only.
``pytorch[<device>]``
    A plain PyTorch loop: ``nn.Linear``, ``nn.Sigmoid``, ``nn.MSELoss``,
    ``optim.SGD``, with explicit ``zero_grad``, ``backward`` and ``step``.
``sklearn``
    ``MLPRegressor(solver="sgd", activation="logistic")`` with momentum, L2 and
    shuffling off, one epoch per ``fit`` (``warm_start``). Its output layer is
    the identity, not a sigmoid, and its layers always have biases.
``floor[<library>]``
    Only the matrix products one step needs, into preallocated buffers.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
from tutorial_reference import TutorialMLP
from workloads import Workload, initial_weights

__all__ = ["KINDS", "Contender", "Runner", "build_contenders", "make_agnostic", "make_floor"]

#: Kinds of contender, as ``--contenders`` names them.
KINDS = ("agnostic", "tutorial", "pytorch", "sklearn", "floor")


@dataclass
class Runner:
    """A prepared contender.

    Attributes
    ----------
    run : callable
        ``run(steps)`` trains ``steps`` steps and waits for the device.
    info : dict
        Facts worth reporting (device, dtype actually used, ...).
    model : object
        The ``MLP`` an ``agnostic_mlp`` contender trains (None for the others).
    """

    run: Callable[[int], None]
    info: dict[str, Any] = field(default_factory=dict)
    model: Any = None


@dataclass(frozen=True)
class Contender:
    """Something to time on a workload.

    Attributes
    ----------
    name : str
        Unique name, such as ``"agnostic_mlp[numpy]"``.
    kind : str
        One of :data:`KINDS`.
    floor : str or None
        Name of the floor contender its ratio is taken against.
    prepare : callable
        ``prepare(workload, X, y)`` with NumPy data; returns a :class:`Runner`.
    applies : callable
        ``applies(workload)``: whether it can run the workload.
    """

    name: str
    kind: str
    floor: str | None
    prepare: Callable[[Workload, np.ndarray, np.ndarray], Runner]
    applies: Callable[[Workload], bool] = lambda w: True


def _n_used(workload: Workload, n_samples: int, steps: int) -> int:
    return min(n_samples, steps * workload.batch_size)


def _cuda_sync() -> None:
    import torch

    torch.cuda.synchronize()


def _cupy_sync() -> None:
    import cupy

    cupy.cuda.get_current_stream().synchronize()


def _no_sync() -> None:
    return None


# -- agnostic_mlp ---------------------------------------------------------------


def make_agnostic(backend: str, device: str | None) -> Callable[..., Runner]:
    """``prepare`` for ``MLP.fit`` on ``backend``: one ``fit(epochs=1)`` per measurement.

    The data is moved to the backend's device once, outside the clock; ``fit``
    then finds it already there (it still checks it, as it always does).
    """

    def prepare(w: Workload, x: np.ndarray, y: np.ndarray) -> Runner:
        from agnostic_mlp import MLP, SGD

        model = MLP(w.layers[0], list(w.layers[1:-1]), w.layers[-1], backend=backend,
                    device=device, dtype=w.dtype, seed=0, bias=w.bias, activation="sigmoid",
                    output_activation="sigmoid", loss="mse")
        xp = model.xp
        xd = xp.asarray(x, dtype=model.dtype, device=model.device)
        yd = xp.asarray(y, dtype=model.dtype, device=model.device)
        optimizer = SGD(w.learning_rate)
        slices: dict[int, tuple[Any, Any]] = {x.shape[0]: (xd, yd)}
        if backend == "jax":
            import jax

            def sync() -> None:
                # fit returns once the losses are on the host, but JAX dispatches
                # asynchronously: the last step's update may still be running.
                jax.block_until_ready(model.parameters())
        elif backend == "cupy":
            sync = _cupy_sync
        else:
            sync = _cuda_sync if "cuda" in str(model.device) else _no_sync

        def run(steps: int) -> None:
            n = _n_used(w, x.shape[0], steps)
            if n not in slices:  # slicing copies on some backends (JAX): do it once
                slices[n] = (xd[:n, ...], yd[:n, ...])
            xs, ys = slices[n]
            model.fit(xs, ys, epochs=1, batch_size=w.batch_size, optimizer=optimizer,
                      shuffle=False, verbose=0)
            sync()

        return Runner(run, {"device": str(model.device), "model": repr(model)}, model)

    return prepare


# -- the tutorial ------------------------------------------------------------------


def _tutorial(w: Workload, x: np.ndarray, y: np.ndarray) -> Runner:
    net = TutorialMLP(w.layers[0], list(w.layers[1:-1]), w.layers[-1], dtype=w.dtype, seed=0)

    def run(steps: int) -> None:
        n = _n_used(w, x.shape[0], steps)
        net.train(x[:n], y[:n], epochs=1, learning_rate=w.learning_rate)

    return Runner(run, {"dtype": str(net.weights[0].dtype)})


# -- plain PyTorch -----------------------------------------------------------------


def _pytorch(device: str) -> Callable[..., Runner]:
    def prepare(w: Workload, x: np.ndarray, y: np.ndarray) -> Runner:
        import torch
        from torch import nn

        dev = torch.device(device)
        modules: list[nn.Module] = []
        for n_in, n_out in pairwise(w.layers):
            modules += [nn.Linear(n_in, n_out, bias=w.bias), nn.Sigmoid()]
        net = nn.Sequential(*modules).to(device=dev, dtype=getattr(torch, w.dtype))
        loss_fn = nn.MSELoss()
        optimizer = torch.optim.SGD(net.parameters(), lr=w.learning_rate, momentum=0.0)
        xt = torch.as_tensor(x, device=dev)
        yt = torch.as_tensor(y, device=dev)
        bs = w.batch_size
        sync = _cuda_sync if dev.type == "cuda" else _no_sync

        def run(steps: int) -> None:
            n = _n_used(w, x.shape[0], steps)
            losses = []
            for lo in range(0, n, bs):
                xb, yb = xt[lo:lo + bs], yt[lo:lo + bs]
                optimizer.zero_grad()
                loss = loss_fn(net(xb), yb)
                loss.backward()
                optimizer.step()
                losses.append(loss.detach())
            # One transfer per epoch, as agnostic_mlp's fit does.
            torch.stack(losses).sum().item()
            sync()

        return Runner(run, {"device": str(dev), "threads": torch.get_num_threads()})

    return prepare


# -- scikit-learn ---------------------------------------------------------------------


def _sklearn(w: Workload, x: np.ndarray, y: np.ndarray) -> Runner:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    model = MLPRegressor(
        hidden_layer_sizes=w.layers[1:-1], activation="logistic", solver="sgd",
        learning_rate="constant", learning_rate_init=w.learning_rate, momentum=0.0,
        nesterovs_momentum=False, alpha=0.0, batch_size=w.batch_size, max_iter=1,
        shuffle=False, tol=0.0, n_iter_no_change=10**9, early_stopping=False,
        warm_start=True, random_state=0,
    )
    target = y[:, 0] if y.shape[1] == 1 else y
    info: dict[str, Any] = {"output_activation": "identity", "bias": True}

    def run(steps: int) -> None:
        n = _n_used(w, x.shape[0], steps)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            # --quick gives the large workload fewer samples than a batch.
            warnings.filterwarnings("ignore", message="Got `batch_size`")
            model.fit(x[:n], target[:n])
        info["dtype"] = str(model.coefs_[0].dtype)

    return Runner(run, info)


# -- the floor -----------------------------------------------------------------------


def make_floor(library: str, device: str | None = None) -> Callable[..., Runner]:
    """Only the matrix products of each step, into preallocated buffers.

    Forward: ``a[i+1] = a[i] @ W[i]`` for every layer. Backward: the weight
    gradient ``a[i].T @ d[i]`` for every layer and the delta ``d[i] @ W[i].T``
    for every layer but the first. No activation, loss, bias or update.
    """

    def prepare(w: Workload, x: np.ndarray, y: np.ndarray) -> Runner:
        if library == "numpy":
            to_device: Callable[[np.ndarray], Any] = np.asarray
            matmul: Callable[..., Any] = np.matmul
            sync = _no_sync
        elif library == "torch":
            import torch

            def to_device(a: np.ndarray) -> Any:
                return torch.as_tensor(a, device=device).clone()

            matmul = torch.matmul
            sync = _cuda_sync if "cuda" in str(device) else _no_sync
        elif library == "cupy":
            import cupy

            to_device, matmul, sync = cupy.asarray, cupy.matmul, _cupy_sync
        else:
            raise ValueError(f"no floor for {library!r}")

        rng = np.random.default_rng(1)
        bs, dtype = w.batch_size, w.dtype
        weights = [to_device(a) for a in initial_weights(w)]
        outs = [to_device(np.zeros((bs, n), dtype=dtype)) for n in w.layers[1:]]
        deltas = [to_device((rng.random((bs, n)) * 1e-3).astype(dtype)) for n in w.layers[1:]]
        grads = [to_device(np.zeros_like(a)) for a in initial_weights(w)]
        xd = to_device(x)
        n_layers = len(weights)

        def step(xb: Any, outs_m: list[Any], deltas_m: list[Any]) -> None:
            inputs = [xb, *outs_m[:-1]]
            for i in range(n_layers):
                matmul(inputs[i], weights[i], out=outs_m[i])
            for i in reversed(range(n_layers)):
                matmul(inputs[i].T, deltas_m[i], out=grads[i])
                if i > 0:
                    matmul(deltas_m[i], weights[i].T, out=deltas_m[i - 1])

        def run(steps: int) -> None:
            n = _n_used(w, x.shape[0], steps)
            for lo in range(0, n, bs):
                xb = xd[lo:lo + bs]
                m = xb.shape[0]
                if m == bs:
                    step(xb, outs, deltas)
                else:  # the epoch's partial last batch
                    step(xb, [o[:m] for o in outs], [d[:m] for d in deltas])
            sync()

        return Runner(run, {"library": library, "device": str(device or "cpu")})

    return prepare


# -- which contenders can run here -----------------------------------------------------


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _torch_cuda() -> bool:
    if not _has("torch"):
        return False
    import torch

    return bool(torch.cuda.is_available())


def _agnostic_usable(backend: str, device: str | None) -> str | None:
    from agnostic_mlp import BackendUnavailableError, get_backend

    try:
        get_backend(backend, device)
    except (BackendUnavailableError, ValueError) as exc:
        return str(exc)
    return None


def build_contenders(backends: list[str], kinds: list[str]) -> tuple[list[Contender], list[str]]:
    """The contenders that can run on this machine, and a note for each one skipped.

    Parameters
    ----------
    backends : list of str
        ``agnostic_mlp`` backends to time: ``numpy``, ``torch``, ``jax``,
        ``cupy``, ``array_api_strict``. ``torch`` also runs on CUDA when
        there is a GPU.
    kinds : list of str
        Kinds of contender to include (see :data:`KINDS`); floors are always
        included, as every ratio needs one.
    """
    notes: list[str] = []
    out: list[Contender] = []
    cuda = _torch_cuda()
    has_torch, has_cupy = _has("torch"), _has("cupy")
    cupy_reason = _agnostic_usable("cupy", None) if has_cupy else "cupy is not installed"

    if "agnostic" in kinds:
        targets: list[tuple[str, str | None, str]] = []
        for b in backends:
            if b == "torch":
                targets.append(("torch", "cpu", "floor[torch-cpu]"))
                if cuda:
                    targets.append(("torch", "cuda", "floor[torch-cuda]"))
                else:
                    notes.append("agnostic_mlp[torch-cuda] skipped: torch has no CUDA device here")
            elif b == "cupy":
                targets.append(("cupy", None, "floor[cupy]"))
            elif b == "array_api_strict":
                targets.append(("array_api_strict", None, "floor[numpy]"))
            else:  # numpy, jax: JAX has no in-place matmul, so it is held to NumPy's floor
                targets.append((b, None, "floor[numpy]"))
        for backend, device, floor in targets:
            label = f"{backend}-{device}" if device else backend
            reason = _agnostic_usable(backend, device)
            if reason is not None:
                notes.append(f"agnostic_mlp[{label}] skipped: {reason.splitlines()[0]}")
                continue
            out.append(Contender(f"agnostic_mlp[{label}]", "agnostic", floor,
                                 make_agnostic(backend, device)))
    if "tutorial" in kinds:
        out.append(Contender("tutorial", "tutorial", "floor[numpy]", _tutorial,
                             applies=lambda w: w.batch_size == 1 and not w.bias))
    if "pytorch" in kinds:
        if has_torch:
            out.append(Contender("pytorch[cpu]", "pytorch", "floor[torch-cpu]", _pytorch("cpu")))
            if cuda:
                out.append(Contender("pytorch[cuda]", "pytorch", "floor[torch-cuda]",
                                     _pytorch("cuda")))
            else:
                notes.append("pytorch[cuda] skipped: torch has no CUDA device here")
        else:
            notes.append("pytorch skipped: torch is not installed")
    if "sklearn" in kinds:
        if _has("sklearn"):
            out.append(Contender("sklearn", "sklearn", "floor[numpy]", _sklearn))
        else:
            notes.append("sklearn skipped: scikit-learn is not installed")

    out.append(Contender("floor[numpy]", "floor", None, make_floor("numpy")))
    if has_torch:
        # Held to NumPy's: how PyTorch's BLAS (MKL here) compares with NumPy's (OpenBLAS).
        out.append(Contender("floor[torch-cpu]", "floor", "floor[numpy]",
                             make_floor("torch", "cpu")))
        if cuda:
            out.append(Contender("floor[torch-cuda]", "floor", None, make_floor("torch", "cuda")))
    if cupy_reason is None:
        out.append(Contender("floor[cupy]", "floor", None, make_floor("cupy")))
    else:
        notes.append(f"floor[cupy] skipped: {cupy_reason.splitlines()[0]}")
    names = {c.name for c in out}
    # A contender whose floor is missing (torch not installed) falls back to NumPy's.
    out = [c if c.floor is None or c.floor in names else
           Contender(c.name, c.kind, "floor[numpy]", c.prepare, c.applies) for c in out]
    return out, notes
