"""ONNX export: a network's forward pass as an ONNX graph, and the estimators in skl2onnx.

Needs the ``[onnx]`` extra (``pip install 'agnostic_mlp[onnx]'``: onnx and
skl2onnx, which brings scikit-learn)::

    from agnostic_mlp.onnx import to_onnx
    proto = to_onnx(mlp)                      # an MLP or Network of any backend
    onnx.save(proto, "mlp.onnx")

- :func:`to_onnx` writes an :class:`~agnostic_mlp.MLP` (its weights brought to
  the host) as a graph of the standard ``ai.onnx`` domain, opset
  :data:`DEFAULT_OPSET` by default (any from :data:`MIN_OPSET` up to what the
  installed onnx knows): input ``X`` of shape ``(N, num_inputs)`` with a
  dynamic batch size ``N``; output ``outputs`` (what ``predict`` gives) and,
  for classifiers, ``probabilities`` (``predict_proba``) and ``labels``
  (``predict_classes``, int64).
- Importing this module registers converters, shape calculators and parsers
  with skl2onnx for :class:`~agnostic_mlp.MLPClassifier` and
  :class:`~agnostic_mlp.MLPRegressor`, so that ``skl2onnx.to_onnx`` converts
  them alone or inside pipelines, as it converts scikit-learn's MLPs: the
  same outputs (``label`` and ``probabilities``, or with the ``zipmap``
  option, whose default is True, ``output_label`` and ``output_probability``;
  ``variable`` for a regressor), labels of the classes' own type (int64 for
  integers, booleans and integral floats; strings).

Each layer is ``MatMul``, ``Add`` (with biases) and its activation:
``Sigmoid`` (sigmoid, logistic), ``Tanh``, ``Relu``, ``LeakyRelu``,
``Softmax`` (last axis), ``Exp``, nothing for identity. The graph computes in
the model's dtype (float32 or float64, or ``dtype``); scikit-learn's
estimators compute in their input's (float32 or float64, anything else cast
to float32), as skl2onnx's MLP converters do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import array_api_compat
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import update_registered_converter
from skl2onnx.common.data_types import (
    DictionaryType,
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    SequenceType,
    StringTensorType,
)

from .activations import Activation, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .backends import to_numpy
from .errors import InvalidArgumentError
from .model import Network
from .sklearn import MLPClassifier, MLPRegressor
from .sklearn.activations import Exp, Logistic, activation

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "to_onnx"]

#: The ``ai.onnx`` opset :func:`to_onnx` writes by default (onnxruntime runs it since 1.14).
DEFAULT_OPSET = 18
#: The oldest opset the graphs are valid in: Softmax over one axis (13).
MIN_OPSET = 13

_CLASSIFIER_ALIAS = "AgnosticMlpMLPClassifier"
_REGRESSOR_ALIAS = "AgnosticMlpMLPRegressor"
_PROTO = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}


class _Graph(Protocol):
    """Where nodes go: a plain ONNX graph, or skl2onnx's container."""

    def constant(self, hint: str, value: np.ndarray) -> str:
        """The name of a new initializer holding ``value``."""
        ...

    def node(self, op: str, inputs: Sequence[str], hint: str, out: str | None = None,
             **attrs: Any) -> str:
        """Add a node; return its output's name (``out`` if given)."""
        ...


class _Plain:
    """Nodes and initializers for :func:`onnx.helper.make_graph`, named ``<hint>_<k>``."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def constant(self, hint: str, value: np.ndarray) -> str:
        name = self._name(hint)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: Sequence[str], hint: str, out: str | None = None,
             **attrs: Any) -> str:
        name = self._name(hint)
        output = out or name
        self.nodes.append(helper.make_node(op, list(inputs), [output], name=name, **attrs))
        return output


class _Container:
    """Nodes and initializers in skl2onnx's container, named by its scope."""

    def __init__(self, scope: Any, container: Any) -> None:
        self.scope, self.container = scope, container

    def constant(self, hint: str, value: np.ndarray) -> str:
        name = self.scope.get_unique_variable_name(hint)
        if value.dtype.kind in "OUS":  # strings have no raw data: pass the values
            strings = [str(s).encode("utf-8") for s in value.ravel()]
            self.container.add_initializer(name, TensorProto.STRING, list(value.shape), strings)
        else:
            self.container.add_initializer(name, None, None, numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: Sequence[str], hint: str, out: str | None = None,
             **attrs: Any) -> str:
        output = out or self.scope.get_unique_variable_name(hint)
        self.container.add_node(op, list(inputs), [output],
                                name=self.scope.get_unique_operator_name(op), **attrs)
        return output


def _activate(g: _Graph, act: Activation, z: str, layer: int) -> str:
    """The node computing ``act`` of ``z``; exact types only, so that a subclass that
    computes something else is refused rather than written wrong."""
    kind = type(act)
    if kind is Identity:
        return z
    if isinstance(act, LeakyReLU) and kind is LeakyReLU:
        return g.node("LeakyRelu", [z], "leaky_relu", alpha=float(act.negative_slope))
    if kind is Softmax:
        return g.node("Softmax", [z], "softmax", axis=-1)
    ops = {Sigmoid: "Sigmoid", Logistic: "Sigmoid", Tanh: "Tanh", ReLU: "Relu", Exp: "Exp"}
    if kind not in ops:
        raise TypeError(f"layer {layer}'s activation {act!r} ({kind.__name__}) has no ONNX "
                        "form; the exportable ones are sigmoid, logistic, tanh, relu, "
                        "leaky_relu, identity, softmax and exp")
    return g.node(ops[kind], [z], kind.__name__.lower())


def _layers(g: _Graph, x: str, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
            activations: Sequence[Activation]) -> str:
    """The network's output (its last activation) from the input ``x``."""
    a = x
    for i, w in enumerate(weights):
        z = g.node("MatMul", [a, g.constant(f"W{i}", w)], f"matmul{i}")
        if biases:
            z = g.node("Add", [z, g.constant(f"b{i}", biases[i])], f"add{i}")
        a = _activate(g, activations[i], z, i)
    return a


def _host(values: Sequence[Any], dtype: np.dtype[Any]) -> list[np.ndarray]:
    return [np.ascontiguousarray(to_numpy(v), dtype=dtype) for v in values]


def _check_opset(opset: Any) -> int:
    newest = onnx.defs.onnx_opset_version()
    if opset is None:
        return DEFAULT_OPSET
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not (
            MIN_OPSET <= int(opset) <= newest):
        raise InvalidArgumentError(
            f"opset must be an int from {MIN_OPSET} to {newest} (the newest the installed onnx "
            f"knows), got {opset!r}")
    return int(opset)


def to_onnx(model: Network, *, opset: int | None = None, dtype: Any = None,
            name: str = "agnostic_mlp") -> onnx.ModelProto:
    """The forward pass of ``model`` as an ONNX model.

    Parameters
    ----------
    model : Network
        An :class:`~agnostic_mlp.MLP` (or Network) of any backend and device;
        its parameters are copied to the host.
    opset : int, optional
        The ``ai.onnx`` opset, from :data:`MIN_OPSET` to the installed onnx's
        newest; :data:`DEFAULT_OPSET` when None.
    dtype : {"float32", "float64"}, optional
        What the graph computes in, and its input's and outputs' type; the
        model's dtype when None.
    name : str
        The graph's name.

    Returns
    -------
    onnx.ModelProto
        Checked with :func:`onnx.checker.check_model`. Input ``X``
        ``(N, num_inputs)``; outputs ``outputs`` ``(N, num_outputs)`` and, for
        a classifier (a loss with a binary or multiclass task),
        ``probabilities`` ``(N, n_classes)`` and ``labels`` (int64): ``(N,)``,
        or ``(N, num_outputs)`` for several binary outputs.

    Raises
    ------
    TypeError
        For a model that is not a Network, or an activation with no ONNX form.
    InvalidArgumentError
        For a bad ``opset``, ``dtype`` or ``name``.
    """
    if not isinstance(model, Network):
        raise TypeError(f"model must be an agnostic_mlp MLP or Network, got "
                        f"{type(model).__name__}; for MLPClassifier and MLPRegressor use "
                        "skl2onnx.to_onnx after importing agnostic_mlp.onnx")
    version = _check_opset(opset)
    chosen = model.runtime.dtype_name if dtype is None else dtype
    if chosen not in ("float32", "float64"):
        raise InvalidArgumentError(f"dtype must be 'float32', 'float64' or None, got {dtype!r}")
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"name must be a non-empty str, got {name!r}")
    np_dtype = np.dtype(chosen)
    element = _PROTO[np_dtype]
    g = _Plain()
    activations = model.layer_activations
    out = _layers(g, "X", _host(model.weights, np_dtype), _host(model.biases, np_dtype),
                  activations)
    g.node("Identity", [out], "outputs", out="outputs")
    outputs = [helper.make_tensor_value_info("outputs", element, ["N", model.num_outputs])]
    head = model.loss.head
    if head.classifier:
        n = model.num_outputs
        if head.name == "binary":
            hits = g.node("GreaterOrEqual", [out, g.constant("half", np.array(0.5, np_dtype))],
                          "at_least_half")
            labels = g.node("Cast", [hits], "labels", to=TensorProto.INT64)
            if n == 1:
                one = g.constant("one", np.array(1.0, np_dtype))
                g.node("Concat", [g.node("Sub", [one, out], "negative"), out], "probabilities",
                       out="probabilities", axis=1)
                labels = g.node("Reshape", [labels, g.constant("flat", np.array([-1]))],
                                "labels")
            else:
                g.node("Identity", [out], "probabilities", out="probabilities")
            g.node("Identity", [labels], "labels", out="labels")
            label_shape: list[Any] = ["N"] if n == 1 else ["N", n]
            classes = 2 if n == 1 else n
        else:
            g.node("Identity", [out], "probabilities", out="probabilities")
            g.node("ArgMax", [out], "labels", out="labels", axis=1, keepdims=0)
            label_shape, classes = ["N"], n
        outputs += [helper.make_tensor_value_info("probabilities", element, ["N", classes]),
                    helper.make_tensor_value_info("labels", TensorProto.INT64, label_shape)]
    graph = helper.make_graph(
        g.nodes, name, [helper.make_tensor_value_info("X", element, ["N", model.num_inputs])],
        outputs, g.initializers)
    opsets = [helper.make_opsetid("", version)]
    # The oldest IR version the opset allows, not the installed onnx's newest: older
    # runtimes refuse IR versions they do not know.
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="agnostic_mlp",
                              ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(proto, full_check=True)
    return proto


# -- skl2onnx: MLPClassifier and MLPRegressor -----------------------------------------


def _classes(model: Any) -> np.ndarray:
    """``classes_`` on the host, as ONNX holds them: int64, or strings."""
    classes = model.classes_
    host = (to_numpy(classes) if array_api_compat.is_array_api_obj(classes)
            else np.asarray(classes))
    if host.dtype.kind in "biuf":  # float labels are whole numbers: scikit-learn's rule
        return host.astype(np.int64)
    return np.array([str(c) for c in host.tolist()], dtype=object)


def _kind(model: Any) -> str:
    """``binary``, ``multiclass`` or ``multilabel``, from the fitted public attributes."""
    if model.out_activation_ == "softmax":
        return "multiclass"
    return "binary" if int(model.n_outputs_) == 1 else "multilabel"


def _compute_type(input_type: Any) -> tuple[type[Any], np.dtype[Any]]:
    """The tensor type and dtype an estimator's graph computes in, from its input's."""
    if isinstance(input_type, DoubleTensorType):
        return DoubleTensorType, np.dtype(np.float64)
    return FloatTensorType, np.dtype(np.float32)


def _zipmap_names(model: Any) -> list[str]:
    """The columns of ``zipmap="columns"``: ``i<c>`` for integer classes, else ``s<c>``
    (skl2onnx's naming)."""
    raw = model.classes_
    raw = to_numpy(raw) if array_api_compat.is_array_api_obj(raw) else np.asarray(raw)
    if raw.dtype.kind in "biu":
        return [f"i{int(c)}" for c in raw.tolist()]
    return [f"s{c}" for c in raw.tolist()]


def _parse_classifier(scope: Any, model: Any, inputs: list[Any],
                      custom_parsers: Any = None) -> list[Any]:
    """Outputs ``label`` and ``probabilities``, then the ZipMap that the ``zipmap`` option
    asks for, as skl2onnx lays out its own classifiers."""
    zipmap = scope.get_options(model, {"zipmap": True})["zipmap"]
    classes = _classes(model)
    strings = classes.dtype == object
    label_type = StringTensorType if strings else Int64TensorType
    multilabel = _kind(model) == "multilabel"
    tensor_type, _ = _compute_type(inputs[0].type)
    if zipmap is True:  # ONNX's ZipMap takes float tensors only
        tensor_type = FloatTensorType
    operator = scope.declare_local_operator(_CLASSIFIER_ALIAS, model)
    operator.inputs = inputs
    label = scope.declare_local_variable("label", label_type())
    probabilities = scope.declare_local_variable("probabilities", tensor_type())
    operator.outputs += [label, probabilities]
    if zipmap is False:
        return list(operator.outputs)
    columns = zipmap == "columns"
    zipper = scope.declare_local_operator("SklearnZipMapColumns" if columns else "SklearnZipMap")
    zipper.inputs = list(operator.outputs)
    if strings:
        zipper.classlabels_strings = [c.encode("utf-8") for c in classes]
    else:
        zipper.classlabels_int64s = [int(c) for c in classes]
    shape = [None, len(classes)] if multilabel else [None]
    zipper.outputs.append(scope.declare_local_variable("output_label", label_type(shape)))
    if columns:
        for column in _zipmap_names(model):
            zipper.outputs.append(scope.declare_local_variable(column, tensor_type()))
    else:
        key = StringTensorType([]) if strings else Int64TensorType([])
        zipper.outputs.append(scope.declare_local_variable(
            "output_probability", SequenceType(DictionaryType(key, FloatTensorType()))))
    zipper.init_status(is_evaluated=True)
    return list(zipper.outputs)


def _parse_regressor(scope: Any, model: Any, inputs: list[Any],
                     custom_parsers: Any = None) -> list[Any]:
    """One output, ``variable``, of the computing type."""
    operator = scope.declare_local_operator(_REGRESSOR_ALIAS, model)
    operator.inputs = inputs
    tensor_type, _ = _compute_type(inputs[0].type)
    operator.outputs.append(scope.declare_local_variable("variable", tensor_type()))
    return list(operator.outputs)


def _shape_classifier(operator: Any) -> None:
    model = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    classes = _classes(model)
    label_type = type(operator.outputs[0].type)
    multilabel = _kind(model) == "multilabel"
    operator.outputs[0].type = label_type([n, len(classes)] if multilabel else [n])
    operator.outputs[1].type = type(operator.outputs[1].type)([n, len(classes)])


def _shape_regressor(operator: Any) -> None:
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = type(operator.outputs[0].type)([n, int(operator.raw_operator
                                                                       .n_outputs_)])


def _estimator_output(scope: Any, operator: Any, container: Any) -> tuple[_Container, str, Any]:
    """The network's output for the operator's input, in the computing dtype."""
    model = operator.raw_operator
    g = _Container(scope, container)
    tensor_type, np_dtype = _compute_type(operator.inputs[0].type)
    x = operator.inputs[0].full_name
    if not isinstance(operator.inputs[0].type, tensor_type):
        x = g.node("Cast", [x], "cast_input", to=_PROTO[np_dtype])
    hidden = [activation(model.activation)] * (len(model.coefs_) - 1)
    acts = [*hidden, activation(model.out_activation_)]
    out = _layers(g, x, _host(model.coefs_, np_dtype), _host(model.intercepts_, np_dtype), acts)
    return g, out, np_dtype


def _convert_classifier(scope: Any, operator: Any, container: Any) -> None:
    model = operator.raw_operator
    g, p, np_dtype = _estimator_output(scope, operator, container)
    label_out, proba_out = (v.full_name for v in operator.outputs[:2])
    kind = _kind(model)
    classes = _classes(model)
    if kind == "binary" and len(classes) != 2:
        raise ValueError("a classifier fitted on a single class has two probability columns "
                         "and one label: it has no ONNX form here")
    proba = p
    if kind == "binary":
        negative = g.node("Sub", [g.constant("one", np.array(1.0, np_dtype)), p], "negative")
        proba = g.node("Concat", [negative, p], "probabilities", axis=1)
    # scikit-learn's rule: a logistic output above (not at) one half is the positive class.
    if kind == "multiclass":
        index = g.node("ArgMax", [p], "argmax", axis=1, keepdims=0)
    else:
        hits = g.node("Greater", [p, g.constant("half", np.array(0.5, np_dtype))], "above_half")
        index = g.node("Cast", [hits], "hits", to=TensorProto.INT64)
    if kind == "multilabel":
        g.node("Identity", [index], "label", out=label_out)
    else:
        if kind == "binary":
            index = g.node("Reshape", [index, g.constant("flat", np.array([-1]))], "index")
        g.node("Gather", [g.constant("classes", classes), index], "label", out=label_out,
               axis=0)
    target = _PROTO[np.dtype(np.float64)] if isinstance(operator.outputs[1].type,
                                                        DoubleTensorType) else TensorProto.FLOAT
    if target != _PROTO[np_dtype]:
        g.node("Cast", [proba], "probabilities", out=proba_out, to=target)
    else:
        g.node("Identity", [proba], "probabilities", out=proba_out)


def _convert_regressor(scope: Any, operator: Any, container: Any) -> None:
    g, out, _ = _estimator_output(scope, operator, container)
    g.node("Identity", [out], "variable", out=operator.outputs[0].full_name)


update_registered_converter(
    MLPClassifier, _CLASSIFIER_ALIAS, _shape_classifier, _convert_classifier,
    parser=_parse_classifier, options={"zipmap": [True, False, "columns"]})
update_registered_converter(
    MLPRegressor, _REGRESSOR_ALIAS, _shape_regressor, _convert_regressor,
    parser=_parse_regressor)
