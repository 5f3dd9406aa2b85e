"""Any value for any option: it is taken, or refused with a ValueError or TypeError
that leaves the model as it was. Never another exception, never a crash.

Two outcomes besides: a path whose folder is missing or unwritable raises the
OSError that ``open`` would; and a valid but wild setting (a huge learning
rate) may make training diverge, which raises DivergenceError and keeps finite
weights.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import state_hash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agnostic_mlp import (
    MLP,
    SGD,
    Adam,
    DivergenceError,
    EarlyStopping,
    ExponentialDecay,
    ReduceLROnPlateau,
    StepDecay,
)

X = np.random.default_rng(0).normal(size=(20, 3))
Y = np.random.default_rng(1).random((20, 2))

# Odd values of every kind; small ints only, so a valid epochs= or batch_size= stays quick.
ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 4), st.just(10**400), st.just(2**63),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4), st.binary(max_size=4),
    st.lists(st.integers(-2, 4), max_size=3), st.tuples(st.floats(), st.floats()),
    st.just(object()), st.just(np.float64(0.5)), st.just(np.array([1.0, 2.0])),
    st.sampled_from(["sgd", "adam", "relu", "mse", "float64", "glorot", "auto", "min"]),
)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
pytestmark = pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")


def _refused_or_taken(call: Any, also: tuple[type[BaseException], ...] = ()) -> Any:
    try:
        return call()
    except (ValueError, TypeError, *also):
        return None


def _fits_or_refuses(model: MLP, **kwargs: Any) -> None:
    """Trains, or refuses leaving ``model`` as it was, or diverges keeping finite weights."""
    before = state_hash(model)
    try:
        model.fit(X, Y, verbose=0, **kwargs)
    except (ValueError, TypeError):
        assert state_hash(model) == before
    except DivergenceError:
        assert all(np.isfinite(np.asarray(p)).all() for p in model.parameters())


CONSTRUCTOR = [n for n in inspect.signature(MLP.__init__).parameters if n != "self"]


@SETTINGS
@given(name=st.sampled_from(CONSTRUCTOR), value=ANYTHING)
def test_any_constructor_argument(name, value):
    model = _refused_or_taken(lambda: MLP(**{"num_inputs": 3, "hidden_layers": [4],
                                             "num_outputs": 2, name: value}))
    if model is not None:
        model.predict(X[:, :model.num_inputs] if model.num_inputs <= 3 else
                      np.zeros((2, model.num_inputs)))


@pytest.fixture(scope="module")
def trained() -> MLP:
    model = MLP(3, [4], 2, seed=0, optimizer=SGD(0.1, momentum=0.5))
    model.fit(X, Y, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


FIT = ["epochs", "batch_size", "optimizer", "learning_rate", "shuffle", "validation_split",
       "validation_data", "early_stopping", "patience", "verbose", "callbacks"]


@SETTINGS
@given(name=st.sampled_from(FIT), value=ANYTHING)
def test_any_fit_argument(trained, name, value):
    model = trained.to("numpy")
    before = state_hash(model)
    if _refused_or_taken(lambda: model.fit(X, Y, **{"epochs": 1, "verbose": 0,
                                                    name: value})) is None:
        assert state_hash(model) == before


CHECKPOINTS = st.one_of(ANYTHING, st.text(alphabet="ab./", min_size=1, max_size=6))


@SETTINGS
@given(where=CHECKPOINTS)
def test_any_checkpoint_path(trained, folder, where):
    if isinstance(where, str):  # never outside the test's folder
        where = str(folder / where.lstrip("/")) if where not in ("", ".") else where
    model = trained.to("numpy")
    before = state_hash(model)
    if _refused_or_taken(lambda: model.fit(X, Y, epochs=1, verbose=0, checkpoint=where),
                         also=(OSError,)) is None:
        assert state_hash(model) == before


SCHEDULES = {StepDecay: 3, ExponentialDecay: 4}


@SETTINGS
@given(cls=st.sampled_from(sorted(SCHEDULES, key=str)), args=st.lists(ANYTHING, max_size=4))
def test_any_schedule(trained, cls, args):
    schedule = _refused_or_taken(lambda: cls(*args))
    if schedule is not None:
        _fits_or_refuses(trained.to("numpy"), epochs=1, learning_rate=schedule)


CALLBACKS = {EarlyStopping: ["patience", "min_delta", "monitor", "restore_best_weights", "mode"],
             ReduceLROnPlateau: ["factor", "patience", "min_lr", "monitor", "mode",
                                 "min_delta"]}
OPTIMIZERS = {SGD: ["learning_rate", "momentum", "nesterov", "weight_decay"],
              Adam: ["learning_rate", "beta_1", "beta_2", "epsilon", "weight_decay"]}


@SETTINGS
@given(cls=st.sampled_from([EarlyStopping, ReduceLROnPlateau, SGD, Adam]), data=st.data())
def test_any_callback_or_optimizer_argument(trained, cls, data):
    names = {**CALLBACKS, **OPTIMIZERS}[cls]
    name = data.draw(st.sampled_from(names))
    made = _refused_or_taken(lambda: cls(**{name: data.draw(ANYTHING)}))
    if made is None:
        return
    kwargs = {"optimizer": made} if cls in OPTIMIZERS else {"callbacks": made,
                                                            "validation_split": 0.25}
    _fits_or_refuses(trained.to("numpy"), epochs=2, **kwargs)
