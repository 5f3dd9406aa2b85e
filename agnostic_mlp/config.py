"""A model's configuration: one frozen dataclass, checked once, and its JSON form.

:class:`MLPConfig` is what the constructor builds, what files store, what
:meth:`~agnostic_mlp.MLP.to` and checkpoints compare, and what the
scikit-learn estimators fill in. Each field is declared once, with its
constraint and default; serialisation is derived from the fields, and reading
a file *constructs* the config, so a file is held to exactly the constructor's
rules. Adding a hyperparameter means adding a field here (and the keyword to
the constructor's signature, which a test keeps equal to these fields).
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .activations import ACTIVATIONS, Activation, get_activation
from .backends import DTYPES, dtype_name
from .components import Component
from .constraints import (
    ANY,
    BOOLEAN,
    CALLABLE,
    MAX_SEED,
    NONE,
    Integer,
    Options,
    check,
    check_sequence,
    short,
)
from .errors import InvalidArgumentError
from .initializers import INITIALIZERS
from .losses import LOSSES, get_loss
from .optimizers import OPTIMIZERS, Optimizer, get_optimizer
from .schedules import SCHEDULES

__all__ = [
    "DTYPES",
    "MAX_LAYERS",
    "MAX_UNITS",
    "MLPConfig",
    "component_from_json",
    "component_to_json",
    "json_list",
    "json_object",
    "learning_rate_to_json",
    "optimizer_from_json",
    "optimizer_to_json",
]

#: The widest layer a model may have.
MAX_UNITS = 2**31 - 1
#: The most hidden layers a model may have.
MAX_LAYERS = 1024

_UNITS = Integer(1, MAX_UNITS)


@dataclass(frozen=True)
class MLPConfig:
    """Everything that defines a model but its parameters and where it runs.

    Attributes
    ----------
    num_inputs, num_outputs : int
        Input features and outputs.
    hidden_layers : tuple of int
        Width of each hidden layer (may be empty).
    dtype : {"float32", "float64"}
        Floating dtype of the parameters and computations.
    seed : int or None
        Seeds the host generator that draws initial weights and shuffles batches.
    bias : bool
        Whether layers have biases.
    activation : tuple of Activation
        One per hidden layer (a single name or instance is repeated).
    output_activation : Activation
        The output's; by default what the loss needs, else sigmoid.
    loss : Loss
        What training minimises.
    init : str, callable or None
        Initialiser for every layer; None picks one per layer's activation.
    optimizer : Optimizer
        What ``fit`` uses unless told otherwise.
    """

    num_inputs: int = 3
    hidden_layers: Sequence[int] = (3, 3)
    num_outputs: int = 2
    dtype: str = "float32"
    seed: int | None = None
    bias: bool = True
    activation: Any = "sigmoid"
    output_activation: Any = None
    loss: Any = "mse"
    init: Any = None
    optimizer: Any = "sgd"

    def __post_init__(self) -> None:
        fix = object.__setattr__  # a frozen dataclass normalises itself once, here
        fix(self, "num_inputs", check(self.num_inputs, "num_inputs", _UNITS))
        fix(self, "hidden_layers", check_sequence(self.hidden_layers, "hidden_layers", _UNITS))
        if len(self.hidden_layers) > MAX_LAYERS:
            raise InvalidArgumentError(
                f"hidden_layers has {len(self.hidden_layers)} layers; at most {MAX_LAYERS}")
        fix(self, "num_outputs", check(self.num_outputs, "num_outputs", _UNITS))
        fix(self, "dtype", dtype_name(self.dtype))
        fix(self, "seed", check(self.seed, "seed", NONE, Integer(0, MAX_SEED)))
        fix(self, "bias", check(self.bias, "bias", BOOLEAN))
        loss = get_loss(self.loss)
        fix(self, "loss", loss)
        fix(self, "activation", self._hidden_activations())
        required = loss.output_activation
        out = get_activation(self.output_activation or required or "sigmoid", "output_activation")
        if required is not None and out.name != required:
            raise InvalidArgumentError(
                f"loss={loss.name!r} needs output_activation={required!r}, got {out.name!r}")
        if out.name == "softmax" and self.num_outputs == 1:
            raise InvalidArgumentError(
                "a softmax over num_outputs=1 is always 1 and cannot learn; for two classes "
                "use num_outputs=1 with loss='binary_cross_entropy', or num_outputs=2")
        fix(self, "output_activation", out)
        fix(self, "init", check(self.init, "init", NONE, Options(tuple(INITIALIZERS)), CALLABLE))
        fix(self, "optimizer", get_optimizer(self.optimizer))

    def _hidden_activations(self) -> tuple[Activation, ...]:
        n = len(self.hidden_layers)
        spec = self.activation
        if isinstance(spec, (str, Activation)):
            acts = [get_activation(spec)] * n
        else:
            try:
                items = check_sequence(spec, "activation", ANY)
            except InvalidArgumentError:
                raise InvalidArgumentError(
                    f"activation must be one of {sorted(ACTIVATIONS)}, an Activation, or a list "
                    f"of them (one per hidden layer), got {short(spec)}") from None
            if len(items) != n:
                raise InvalidArgumentError(
                    f"activation has {len(items)} entries, but there are {n} hidden layers")
            acts = [get_activation(a, f"activation[{i}]") for i, a in enumerate(items)]
        if any(a.name == "softmax" for a in acts):
            raise InvalidArgumentError(
                "activation='softmax' is only available as output_activation")
        return tuple(acts)

    # -- derived ---------------------------------------------------------------

    @property
    def layers(self) -> list[int]:
        """The width of every layer, inputs first."""
        return [self.num_inputs, *self.hidden_layers, self.num_outputs]

    @property
    def activations(self) -> tuple[Activation, ...]:
        """Every layer's activation, the output's last."""
        return (*self.activation, self.output_activation)

    def param_shapes(self) -> list[tuple[int, ...]]:
        """The shapes of the parameters, weights then biases (the order of ``Params.flat``)."""
        layers = self.layers
        shapes: list[tuple[int, ...]] = list(itertools.pairwise(layers))
        return shapes + ([(o,) for o in layers[1:]] if self.bias else [])

    def param_names(self) -> list[str]:
        """The parameters' names in files, in the order of :meth:`param_shapes`."""
        n = len(self.layers) - 1
        return [f"weights.{i}" for i in range(n)] + (
            [f"biases.{i}" for i in range(n)] if self.bias else [])

    def replace(self, **changes: Any) -> MLPConfig:
        """A copy with some fields changed, checked again."""
        return dataclasses.replace(self, **changes)

    # -- JSON ----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The configuration as plain JSON data (format version 1's ``model`` entry).

        Raises
        ------
        InvalidArgumentError
            If a component is custom (a file stores names and numbers, never code).
        """
        return {
            "layers": self.layers,
            "activations": [component_to_json(a, ACTIVATIONS, f"activation[{i}]")
                            for i, a in enumerate(self.activation)],
            "output_activation": component_to_json(self.output_activation, ACTIVATIONS,
                                                   "output_activation"),
            "loss": component_to_json(self.loss, LOSSES, "loss")["name"],
            "bias": self.bias,
            "dtype": self.dtype,
            "seed": self.seed,
            "init": self.init if isinstance(self.init, str) else None,
            "optimizer": optimizer_to_json(self.optimizer, "the model's optimizer"),
        }

    @classmethod
    def from_json(cls, data: Any) -> MLPConfig:
        """The configuration :meth:`to_json` wrote, checked as the constructor checks it.

        Raises
        ------
        InvalidArgumentError
            For anything but exactly what :meth:`to_json` writes.
        """
        data = json_object(data, "the model metadata", _JSON_KEYS)
        layers = json_list(data["layers"], "layers")
        if not 2 <= len(layers) <= MAX_LAYERS + 2:  # before any entry is looked at
            raise InvalidArgumentError(
                f"layers must list the inputs, at most {MAX_LAYERS} hidden layers and the "
                f"outputs, got {len(layers)} entries")
        layers = list(check_sequence(layers, "layers", _UNITS))
        acts = json_list(data["activations"], "activations")
        return cls(
            num_inputs=layers[0], hidden_layers=layers[1:-1], num_outputs=layers[-1],
            dtype=check(data["dtype"], "dtype", Options(DTYPES)),
            seed=data["seed"], bias=data["bias"],
            activation=[component_from_json(a, ACTIVATIONS, f"activations[{i}]")
                        for i, a in enumerate(acts)],
            output_activation=component_from_json(data["output_activation"], ACTIVATIONS,
                                                  "output_activation"),
            loss=LOSSES[check(data["loss"], "loss", Options(tuple(LOSSES)))](),
            init=check(data["init"], "init", NONE, Options(tuple(INITIALIZERS))),
            optimizer=optimizer_from_json(data["optimizer"], "optimizer"),
        )


_JSON_KEYS = {"layers", "activations", "output_activation", "loss", "bias", "dtype", "seed",
              "init", "optimizer"}


def json_object(value: Any, what: str, keys: set[str] | None = None) -> dict[str, Any]:
    """``value`` if it is a JSON object (with exactly ``keys``, if given); else the error
    naming ``what``."""
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{what} must be a JSON object, got {short(value)}")
    if keys is not None and set(value) != keys:
        raise InvalidArgumentError(
            f"{what} must have the keys {sorted(keys)}, got {[short(k) for k in value][:12]}")
    return value


def json_list(value: Any, what: str) -> list[Any]:
    """``value`` if it is a JSON list; else the error naming ``what``."""
    if not isinstance(value, list):
        raise InvalidArgumentError(f"{what} must be a JSON list, got {short(value)}")
    return value


def _parameters(cls: type) -> set[str]:
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {name for name, p in inspect.signature(cls).parameters.items() if p.kind in named}


def component_to_json(obj: Component, registry: Mapping[str, type], what: str,
                      key: str = "name", label: str | None = None) -> dict[str, Any]:
    """``{key: label, **obj.get_config()}`` for a built-in component; refuses custom ones."""
    label = obj.name if label is None else label
    if registry.get(label) is not type(obj):
        raise InvalidArgumentError(
            f"{what} is a custom {type(obj).__name__}; only the built-in ones "
            f"({', '.join(sorted(registry))}) can be saved, because a model file stores "
            "names and numbers, never code")
    return {key: label, **obj.get_config()}


def component_from_json(spec: Any, registry: Mapping[str, type], what: str,
                        key: str = "name") -> Any:
    """The component ``spec`` describes, built by its constructor (which checks the values)."""
    spec = json_object(spec, what)
    cls = registry[check(spec.get(key), f"{what}.{key}", Options(tuple(registry)))]
    args = {k: v for k, v in spec.items() if k != key}
    expected = _parameters(cls)
    if set(args) != expected:
        raise InvalidArgumentError(
            f"{what} must have the keys {sorted(expected | {key})}, "
            f"got {[short(k) for k in spec][:12]}")
    return cls(**args)


_OPTIMIZER_CLASSES = {cls.__name__: cls for cls in OPTIMIZERS.values()}


def optimizer_to_json(opt: Optimizer, what: str) -> dict[str, Any]:
    """``{"class": "Adam", ...}``; a schedule is saved as None (format version 1)."""
    spec = component_to_json(opt, _OPTIMIZER_CLASSES, what, key="class",
                             label=type(opt).__name__)
    if callable(spec["learning_rate"]):
        spec["learning_rate"] = None
    return spec


def optimizer_from_json(spec: Any, what: str) -> Optimizer:
    """The optimizer :func:`optimizer_to_json` wrote; a None learning rate is the default."""
    spec = json_object(spec, what)
    if "learning_rate" in spec and spec["learning_rate"] is None:
        cls = _OPTIMIZER_CLASSES.get(spec.get("class"))
        default = inspect.signature(cls).parameters["learning_rate"].default if cls else 0.0
        spec = {**spec, "learning_rate": default}
    opt: Optimizer = component_from_json(spec, _OPTIMIZER_CLASSES, what, key="class")
    return opt



def learning_rate_to_json(learning_rate: Any, what: str) -> Any:
    """A number as it is, a built-in schedule as ``{"name": ..., **parameters}``.

    Raises
    ------
    InvalidArgumentError
        For any other callable: its values could not be compared with a saved run's.
    """
    if not callable(learning_rate):
        return learning_rate
    if SCHEDULES.get(getattr(learning_rate, "name", "")) is type(learning_rate):
        return component_to_json(learning_rate, SCHEDULES, what)
    raise InvalidArgumentError(
        f"{what} needs a learning rate that a file can hold: a number, StepDecay or "
        f"ExponentialDecay; {learning_rate!r} is code, which a checkpoint cannot compare "
        "with the run that saved it")
