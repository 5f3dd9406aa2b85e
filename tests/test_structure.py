"""The structure the rest stands on: a pure engine, one config, the shell's promises."""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import host

from agnostic_mlp import (
    MLP,
    SGD,
    Adam,
    BackendUnavailableError,
    Callback,
    History,
    MLPConfig,
    get_backend,
)
from agnostic_mlp.engine import Objective, Params, descent_step, train_step

DATA = Path(__file__).parent / "data"
RNG = np.random.default_rng(0)
X = RNG.normal(size=(24, 3))
Y = RNG.random((24, 2))

OPTIMIZERS = {"sgd": lambda: SGD(0.1), "momentum": lambda: SGD(0.1, momentum=0.9),
              "adam": lambda: Adam(0.01, weight_decay=0.1)}


def _copies(arrays: Any) -> list[np.ndarray]:
    return [host(a) for a in arrays]


# -- the engine ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_step_changes_none_of_its_inputs(backend, device, name):
    mlp = MLP(3, [4], 2, backend=backend, device=device, seed=0, dtype="float64")
    xp, optimizer = mlp.xp, OPTIMIZERS[name]()
    objective = Objective(tuple(mlp.layer_activations), mlp.loss)
    params = mlp.params
    state = optimizer.init(xp, params.flat())
    x, y = xp.asarray(X, device=mlp.device), xp.asarray(Y, device=mlp.device)
    before = _copies(params.flat()) + _copies([x, y])
    state_before = {k: _copies(v) for k, v in state.slots().items()}
    new, new_state, sums, _ = train_step(xp, objective, optimizer, params, state, x, y, 0.1)
    assert new_state.step == state.step + 1 == 1
    after = _copies(params.flat()) + _copies([x, y])
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert {k: _copies(v) for k, v in state.slots().items()}.keys() == state_before.keys()
    for k, arrays in state.slots().items():
        assert all(np.array_equal(a, b) for a, b in zip(_copies(arrays), state_before[k],
                                                         strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(_copies(new.flat()), before,
                                                         strict=False))
    assert tuple(sums.shape) == (24,)
    # The fused SGD step, with its default (out of place) descent, is pure too.
    mu = optimizer.descent_momentum
    if mu is None:
        return
    buffers = params.like(state.momentum) if mu else None
    fused, held, _, _ = descent_step(xp, objective, params, x, y, 0.1, momentum=mu,
                                     buffers=buffers)
    assert all(np.array_equal(a, b) for a, b in zip(before, _copies(params.flat()),
                                                     strict=False))
    assert all(np.array_equal(a, b) for a, b in zip(_copies(state.momentum),
                                                     state_before.get("momentum", []),
                                                     strict=True))
    # ... and it is the same step: with momentum bit for bit, buffers too (the delta is
    # negated, exactly); plain, the rate folded into the delta rounds otherwise.
    for a, b in zip(_copies(fused.flat()), _copies(new.flat()), strict=True):
        np.testing.assert_allclose(a, b, rtol=0 if mu else 1e-12, atol=0 if mu else 1e-15)
    if held is not None:
        for a, b in zip(_copies(held.flat()), _copies(new_state.momentum), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_never_writes_into_arrays_the_user_holds(backend, device, name):
    """The same on every backend: fit replaces the parameters, it never changes them."""
    mlp = MLP(3, [4], 2, backend=backend, device=device, seed=0, optimizer=OPTIMIZERS[name]())
    held = mlp.weights[0]
    before = host(held)
    mlp.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    assert np.array_equal(host(held), before)
    assert not np.array_equal(host(mlp.weights[0]), before)


@pytest.mark.parametrize("shuffle", [False, True])
def test_numpy_data_of_the_models_dtype_is_used_where_it_lies(shuffle):
    # 8 MiB of data; a fit that copied it would allocate at least as much again.
    import tracemalloc

    x = np.random.default_rng(0).random((4096, 512), dtype=np.float32)
    y = x[:, :2].copy()
    mlp = MLP(512, [8], 2, seed=0)
    mlp.fit(x[:64], y[:64], epochs=1, verbose=0)  # first-call allocations
    tracemalloc.start()
    try:
        mlp.fit(x, y, epochs=1, batch_size=256, shuffle=shuffle, verbose=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes / 4, f"fit allocated {peak} bytes for {x.nbytes} bytes of data"
    assert np.array_equal(y, x[:, :2])  # and never wrote into it


def test_params_flatten_in_the_order_of_files():
    mlp = MLP(3, [4], 2, seed=0)
    assert mlp.config.param_names() == ["weights.0", "weights.1", "biases.0", "biases.1"]
    assert [tuple(p.shape) for p in mlp.params.flat()] == mlp.config.param_shapes()
    assert isinstance(mlp.params.like(list(mlp.params.flat())), Params)


# -- one config --------------------------------------------------------------------


def test_the_constructor_takes_exactly_the_configs_fields():
    """Adding a hyperparameter to MLPConfig shows here until the signature has it too."""
    signature = inspect.signature(MLP.__init__)
    keywords = {n: p.default for n, p in signature.parameters.items() if n != "self"}
    fields = {f.name: f.default for f in dataclasses.fields(MLPConfig)}
    assert set(keywords) == set(fields) | {"backend", "device"}
    for name, default in fields.items():
        assert keywords[name] == default, name


def test_the_config_is_checked_once_and_round_trips_through_json():
    config = MLPConfig(num_inputs=3, hidden_layers=[5, 4], num_outputs=3,
                       activation=["relu", "tanh"], loss="categorical_cross_entropy",
                       optimizer=Adam(0.02, beta_1=0.8), dtype=np.float64)
    assert config.hidden_layers == (5, 4) and config.dtype == "float64"
    assert config.output_activation.name == "softmax"
    again = MLPConfig.from_json(json.loads(json.dumps(config.to_json())))
    assert again.to_json() == config.to_json()
    assert again == config
    with pytest.raises(ValueError, match="num_inputs"):
        config.replace(num_inputs=0)


# -- fit ------------------------------------------------------------------------------


def test_fits_signature_shows_every_keyword():
    parameters = inspect.signature(MLP.fit).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    assert {"epochs", "batch_size", "optimizer", "learning_rate", "shuffle",
            "validation_split", "validation_data", "early_stopping", "patience", "verbose",
            "callbacks", "checkpoint"} <= set(parameters)
    assert "loss" not in parameters and "tutorial_log" not in parameters


def test_callbacks_may_be_none_one_callable_or_one_callback():
    seen: list[int] = []

    class Record(Callback):
        def on_epoch_end(self, model, epoch, logs):
            seen.append(epoch)

    for callbacks in (None, lambda model, epoch, logs: seen.append(epoch), Record(),
                      [Record(), lambda model, epoch, logs: None]):
        seen.clear()
        MLP(3, [4], 2, seed=0).fit(X, Y, epochs=2, verbose=0, callbacks=callbacks)
        assert seen == ([] if callbacks is None else [0, 1])


def test_history_is_a_read_only_mapping():
    history = MLP(3, [4], 2, seed=0).fit(X, Y, epochs=3, validation_split=0.25, verbose=0)
    assert isinstance(history, History)
    assert "loss" in history and "val_loss" in history and "accuracy" not in history
    assert list(history.keys()) == ["loss", "val_loss"] == list(history)
    assert len(history) == 2 and len(history["loss"]) == 3
    assert dict(history.items()) == history.history
    with pytest.raises(TypeError):
        history["loss"] = [0.0]  # type: ignore[index]


def test_a_sigmoid_output_warns_once_about_targets_outside_it():
    y = X[:, :2] * 3  # regression targets beyond (0, 1)
    with pytest.warns(UserWarning, match="output_activation='identity'") as caught:
        MLP(3, [4], 2, seed=0).fit(X, y, epochs=3, verbose=0)
    assert len(caught) == 1
    assert caught[0].filename == __file__  # it points at the user's call
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MLP(3, [4], 2, seed=0).fit(X, Y, epochs=1, verbose=0)  # targets in [0, 1]
        MLP(3, [4], 2, seed=0, output_activation="identity").fit(X, y, epochs=1, verbose=0)


# -- the tutorial layer ------------------------------------------------------------------


def test_derivatives_are_allocated_only_when_the_tutorial_asks():
    mlp = MLP(64, [256, 256], 64, seed=0)
    mlp.fit(np.zeros((4, 64)), np.zeros((4, 64)), epochs=1, verbose=0)
    mlp.predict(np.zeros((2, 64)))
    assert "_derivatives" not in vars(mlp) and "_activations" not in vars(mlp)
    assert [tuple(d.shape) for d in mlp.derivatives] == [(64, 256), (256, 256), (256, 64)]
    assert "_derivatives" in vars(mlp)


# -- files -----------------------------------------------------------------------------------


def test_files_of_format_version_1_still_load(backend, device):
    """Written by agnostic_mlp 0.1.0: the same weights, configuration and generator."""
    ref = json.loads((DATA / "model_v1.json").read_text())
    model = MLP.load(DATA / "model_v1.safetensors", backend=backend, device=device)
    for got, want in zip(model.parameters(), ref["weights"] + ref["biases"], strict=True):
        assert np.array_equal(host(got), np.array(want))
    np.testing.assert_allclose(host(model.predict(np.array(ref["x"]))), ref["predictions"],
                               rtol=1e-12)
    assert model.rng.bit_generator.state == ref["rng"]
    assert [a.name for a in model.layer_activations] == ["leaky_relu", "tanh", "sigmoid"]
    assert model.layer_activations[0].negative_slope == 0.2
    assert model.loss.name == "binary_cross_entropy" and model.init == "glorot"
    assert type(model.optimizer) is Adam and model.optimizer.beta_1 == 0.8


# -- backends -----------------------------------------------------------------------------------


def test_cupy_without_a_gpu_is_refused_at_construction(monkeypatch):
    """`import cupy` succeeds on a machine without a GPU; the first call into CUDA fails."""

    def no_device() -> int:
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(  # type: ignore[attr-defined]
        runtime=types.SimpleNamespace(getDeviceCount=no_device))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(BackendUnavailableError, match=r"needs an NVIDIA GPU.*cudaErrorNoDevice"):
        MLP(2, [3], 1, backend="cupy")
    with pytest.raises(BackendUnavailableError, match="needs an NVIDIA GPU"):
        get_backend("cupy")


# -- the package's imports ---------------------------------------------------------

PACKAGE = Path(__file__).parent.parent / "agnostic_mlp"
# The math knows arrays only: no backend, no model, no files, no training loop.
MATH = {"activations", "losses", "optimizers", "schedules", "engine", "tasks"}
SHELL = {"backends", "model", "tutorial", "data", "io", "training", "distributed", "sklearn"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _own_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import of the package's own modules in ``path``."""
    import ast

    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            if target.split(".")[0] == "agnostic_mlp":
                names = [a.name for a in node.names]
                # ``from . import x`` imports the submodule x
                subs = [f"{target}.{n}" for n in names
                        if (PACKAGE.parent / f"{target}.{n}".replace(".", "/")).exists()
                        or (PACKAGE.parent / (f"{target}.{n}".replace(".", "/") + ".py")).exists()]
                found += [(s, []) for s in subs]
                if len(subs) < len(names):
                    found.append((target, [n for n in names if f"{target}.{n}" not in subs]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.split(".")[0] == "agnostic_mlp"]
    return found


def _modules() -> dict[str, list[tuple[str, list[str]]]]:
    return {_module_name(p): _own_imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_the_packages_imports_form_a_dag():
    # A package's __init__ re-exports its modules, so edges into a package are
    # edges into its modules; the lazy exports of the top level are not imports.
    modules = _modules()
    graph = {m: {t for t, _ in imports if t in modules and t != m and t != "agnostic_mlp"}
             for m, imports in modules.items() if m != "agnostic_mlp"}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            raise AssertionError(" -> ".join([*path[path.index(module):], module]))
        if module not in done:
            for target in graph.get(module, ()):
                if not target.startswith(module + "."):  # a package importing its own parts
                    visit(target, (*path, module))
            done.add(module)

    for module in graph:
        visit(module, ())


def test_the_math_imports_no_backend_model_files_or_loop():
    for module, imports in _modules().items():
        if module.split(".")[1:2] and module.split(".")[1] in MATH:
            bad = [(t, names) for t, names in imports
                   if t.split(".")[1:2] and t.split(".")[1] in SHELL
                   # an optimizer object (not its math) pickles its state as host arrays
                   and (module, t, names) != ("agnostic_mlp.optimizers",
                                              "agnostic_mlp.backends", ["to_numpy"])]
            assert not bad, f"{module} imports {bad}"


def test_the_package_imports_its_own_modules_at_the_top():
    # Imports inside functions hide cycles; only the lazy scikit-learn export is one.
    import ast

    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and id(node) not in top and (
                    node.level or (node.module or "").startswith("agnostic_mlp")):
                assert (path.name, node.module) == ("__init__.py", "sklearn"), (
                    f"{path}:{node.lineno} imports {node.module} inside a function")


def test_no_module_uses_another_modules_private_names():
    for module, imports in _modules().items():
        for target, names in imports:
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            # _typing is a module, not a name; its names are public type aliases.
            assert not private, f"{module} imports {private} from {target}"
