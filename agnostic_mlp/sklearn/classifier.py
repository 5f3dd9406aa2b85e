"""MLPClassifier: scikit-learn's multi-layer perceptron classifier, on any Array API backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d

from .._typing import Array
from ..backends import to_numpy
from ..errors import InvalidArgumentError
from ..metrics import Accuracy, Score
from ..weights import class_weights
from .base import BaseMLP, documented
from .labels import LabelCoder, as_host
from .placement import Placement

__all__ = ["MLPClassifier"]


@documented
class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's, drop-in, on any Array API backend.

    It minimises the log-loss with scikit-learn's ``adam``, ``sgd`` or ``lbfgs`` and the
    same parameters, defaults and semantics as
    ``sklearn.neural_network.MLPClassifier``: the same ``random_state`` gives
    the same model. Binary, multiclass and multi-label targets; labels of any
    type (strings included).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Width of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Hidden-layer activation.
    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        scikit-learn's solvers. ``"lbfgs"`` is its full-batch L-BFGS (scipy's
        L-BFGS-B, with ``maxiter=max_iter``, ``maxfun=max_fun``, ``gtol=tol``); the
        loss and gradient are computed on the backend over the whole data, and only
        the flat parameters and gradient cross to the host. It has no
        ``partial_fit``, ignores ``early_stopping`` (as scikit-learn) and takes no
        ``callbacks``, ``checkpoint`` or ``parallel``.
    alpha : float, default=1e-4
        L2 penalty, ``0.5 * alpha * sum(W**2)`` divided by the batch's size (or weight).
    batch_size : int or "auto", default="auto"
        ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        SGD's schedule.
    learning_rate_init, power_t, max_iter, shuffle, tol, verbose, warm_start, momentum, \
nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon, \
n_iter_no_change
        As scikit-learn's, with its defaults.
    random_state : int, RandomState or None, default=None
        Draws the initial weights, the validation split and the shuffles, in
        scikit-learn's order: the same seed gives scikit-learn's model.
    max_fun : int, default=15000
        ``solver="lbfgs"`` only: the most evaluations of the loss and gradient.
    class_weight : None, "balanced" or dict, default=None
        Each class's weight in the loss, as scikit-learn's other classifiers take
        it: fitting equals fitting with ``sample_weight`` times
        ``sklearn.utils.class_weight.compute_sample_weight(class_weight, y)``.
        ``"balanced"`` is ``n_samples / (n_classes * count)`` of ``y``; a dict
        ``{label: weight}`` (1 for a class it leaves out). Multi-label targets
        take ``"balanced"`` only (per label, multiplied). ``partial_fit`` takes a
        dict (not ``"balanced"``: one call's labels do not give the classes'
        frequencies; pass ``compute_class_weight("balanced", ...)`` of a large
        sample as a dict).
    {the engine's parameters}
    Attributes
    ----------
    classes_ : array of shape (n_classes,)
    coefs_, intercepts_ : list of arrays
        Each layer's weights ``(n_in, n_out)`` and biases.
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_, n_iter_, \
n_layers_, n_outputs_, out_activation_, n_features_in_, feature_names_in_
        As scikit-learn's.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from agnostic_mlp import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(20,), max_iter=500, random_state=0).fit(X, y)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    """

    _classifier = True

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        class_weight: Any = None,
        backend: Any = None,
        device: Any = None,
        dtype: Any = None,
        callbacks: Any = None,
        checkpoint: Any = None,
        parallel: Any = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.class_weight = class_weight
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.callbacks = callbacks
        self.checkpoint = checkpoint
        self.parallel = parallel

    # -- targets -----------------------------------------------------------------------

    def _coder(self) -> LabelCoder:
        return LabelCoder(self.classes_, self._label_kind)

    def _targets(self, y: Any, placement: Placement, first_pass: bool, incremental: bool,
                 classes: Any) -> tuple[Array, str]:
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        coder = self._coder() if hasattr(self, "classes_") else None
        if incremental:  # partial_fit: its classes come from the first call
            if coder is None:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit.")
                multilabel = type_of_target(y).startswith("multilabel")
                coder = self._everyones(LabelCoder.fit(y if multilabel else classes))
            elif classes is not None and not np.array_equal(as_host(coder.classes),
                                                            as_host(unique_labels(classes))):
                raise ValueError(f"`classes={classes!r}` is not the same as on last call to "
                                 f"partial_fit, was: {coder.classes!r}")
        if not incremental and (coder is None or not self.warm_start):
            coder = self._everyones(LabelCoder.fit(y))
        elif self.warm_start:
            assert coder is not None
            if not coder.same_classes(y):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {coder.classes}, `y` has "
                    f"{unique_labels(y)}")
        else:
            assert coder is not None
            if coder.unseen(y):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{coder.classes}. 'y' has {unique_labels(y)}.")
        self.classes_ = coder.classes
        self._label_kind = coder.kind
        return coder.encode(placement.runtime, y), coder.out_activation

    def _everyones(self, coder: LabelCoder) -> LabelCoder:
        """Across processes (``parallel``), the classes of every process's labels, in the
        same order everywhere (a shard may lack a class)."""
        parallel = self.parallel
        if parallel is None or parallel.size == 1:
            return coder
        everyone = parallel.shards((coder.kind, as_host(coder.classes)))
        kinds = {kind for kind, _ in everyone}
        if "multilabel-indicator" in kinds:
            if len(kinds) > 1 or any(len(c) != len(coder.classes) for _, c in everyone):
                raise ValueError(f"the processes' labels differ in kind ({sorted(kinds)}) or "
                                 "in their number of labels; every process must pass the "
                                 "same kind of targets")
            return coder
        return LabelCoder.fit(np.concatenate([classes for _, classes in everyone]))

    def _check_params(self) -> None:
        cw = self.class_weight
        if not (cw is None or (isinstance(cw, str) and cw == "balanced")
                or isinstance(cw, Mapping)):
            raise InvalidArgumentError(
                f"class_weight must be None, 'balanced' or a dict {{label: weight}}, got {cw!r}")

    def _with_class_weights(self, weights: Any, targets: Array, incremental: bool) -> Any:
        """The sample weights times ``compute_sample_weight(class_weight, y)``, on the host's
        float64 (as scikit-learn computes them), then as the data's."""
        cw = self.class_weight
        if cw is None:
            return weights
        kind = self._label_kind
        if isinstance(cw, str):
            if incremental:
                raise ValueError(
                    "class_weight='balanced' is not supported for partial_fit: one call's "
                    "labels do not give the classes' frequencies. Pass "
                    "compute_class_weight('balanced', classes=classes, y=y) of a large sample "
                    "of y, as a dict, as class_weight")
            indexed: Any = cw
        elif kind == "multilabel-indicator":
            raise ValueError("For multi-output, class_weight should be the string 'balanced' "
                             "(a dict applies to a single output)")
        else:
            indexed = self._indexed(cw)
        per_row = class_weights(indexed, to_numpy(targets),
                                "multiclass" if kind == "multiclass" else "binary")
        if weights is None:
            combined = per_row
        else:
            combined = np.asarray(to_numpy(weights), dtype=np.float64) * per_row
        if not np.any(combined != 0):
            raise ValueError("Sample weights (times class_weight) must contain at least one "
                             "non-zero number.")
        return combined  # placed on the device, in the model's dtype, with the data

    def _indexed(self, cw: Mapping[Any, Any]) -> dict[int, float]:
        """``{label: weight}`` as ``{index in classes_: weight}``."""
        classes = as_host(self.classes_).tolist()
        unknown = [k for k in cw if k not in classes]
        if unknown:
            raise ValueError(f"class_weight has labels {unknown!r} that are not classes of y "
                             f"{classes!r}")
        return {classes.index(k): float(v) for k, v in cw.items()}

    def _stratify(self, y: Array) -> np.ndarray | None:
        return to_numpy(y) > 0.5  # the binarized labels, as scikit-learn stratifies on them

    def _metric(self) -> Score:
        return Accuracy(self._hits)

    def _hits(self, xp: Any, y: Array, out: Array) -> Array:
        """Whether each sample's labels are predicted right, as scikit-learn labels outputs."""
        if self._label_kind == "binary" and int(self.classes_.shape[0]) == 1:
            return xp.ones_like(out[:, 0]) > 0  # one class: every prediction is it
        if self._label_kind == "multiclass":
            return xp.argmax(out, axis=1) == xp.argmax(y, axis=1)
        return xp.all((out > 0.5) == (y > 0.5), axis=1)

    # -- fitting and predicting ------------------------------------------------------------

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None,
                    classes: Any = None) -> MLPClassifier:
        """Update the model with one epoch over ``X`` and ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), optional
        classes : array-like of shape (n_classes,), optional
            Every class of all the calls; required on the first call.

        Returns
        -------
        self
        """
        self._fit(X, y, sample_weight, incremental=True, classes=classes)
        return self

    def predict(self, X: Any) -> Any:
        """Predicted labels, of the training labels' type (or a 0/1 matrix, multi-label)."""
        out = self._forward(X, "predict")
        placement = self._placement
        return self._coder().decode(placement.runtime, out, placement.native)

    def _proba(self, X: Any, method: str) -> Array:
        out = self._forward(X, method)
        if self.n_outputs_ == 1:
            xp = self._placement.runtime.xp
            p = out[:, 0]
            return xp.stack([1.0 - p, p], axis=1)
        return out

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, ``(n_samples, n_classes)``, columns in the order of ``classes_``."""
        proba = self._proba(X, "predict_proba")
        return self._placement.output(proba)

    def predict_log_proba(self, X: Any) -> Any:
        """The logarithm of :meth:`predict_proba`."""
        proba = self._proba(X, "predict_log_proba")
        placement = self._placement
        return placement.output(placement.runtime.xp.log(proba))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        assert tags.classifier_tags is not None
        tags.classifier_tags.multi_label = True
        return tags

