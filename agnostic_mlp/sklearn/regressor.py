"""MLPRegressor: scikit-learn's multi-layer perceptron regressor, on any Array API backend."""

from __future__ import annotations

from typing import Any

from sklearn.base import RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d

from .._typing import Array
from ..constraints import Options, check
from ..metrics import R2, Score
from .base import BaseMLP, documented
from .placement import Placement

__all__ = ["MLPRegressor"]

LOSSES = ("squared_error", "poisson")


@documented
class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's, drop-in, on any Array API backend.

    It minimises half the squared error (or half the Poisson deviance) with
    scikit-learn's ``adam`` or ``sgd`` and the same parameters, defaults and
    semantics as ``sklearn.neural_network.MLPRegressor``: the same
    ``random_state`` gives the same model. One or several outputs.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        Half the squared error (identity output), or half the Poisson deviance
        (exponential output).
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Width of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Hidden-layer activation.
    solver : {"adam", "sgd"}, default="adam"
        scikit-learn's stochastic solvers. ``"lbfgs"`` is refused with a message
        naming these (scikit-learn runs it on scipy, on the CPU).
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
        Accepted for compatibility; only L-BFGS uses it.
    {the engine's parameters}
    Attributes
    ----------
    coefs_, intercepts_ : list of arrays
        Each layer's weights ``(n_in, n_out)`` and biases.
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_, n_iter_, \
n_layers_, n_outputs_, out_activation_, n_features_in_, feature_names_in_
        As scikit-learn's.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from agnostic_mlp import MLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=50,
    ...                    random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    """

    def __init__(
        self,
        loss: str = "squared_error",
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
        backend: Any = None,
        device: Any = None,
        dtype: Any = None,
        callbacks: Any = None,
        checkpoint: Any = None,
        parallel: Any = None,
    ) -> None:
        self.loss = loss
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
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.callbacks = callbacks
        self.checkpoint = checkpoint
        self.parallel = parallel

    def _check_params(self) -> None:
        check(self.loss, "loss", Options(LOSSES))

    def _targets(self, y: Any, placement: Placement, first_pass: bool, incremental: bool,
                 classes: Any) -> tuple[Array, str]:
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        targets = placement.values(y, "y")
        if targets.ndim == 1:
            targets = placement.runtime.xp.reshape(targets, (-1, 1))
        return targets, "exp" if self.loss == "poisson" else "identity"

    def _metric(self) -> Score:
        return R2()

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Update the model with one epoch over ``X`` and ``y``; return self."""
        self._fit(X, y, sample_weight, incremental=True)
        return self

    def predict(self, X: Any) -> Any:
        """Predicted values: ``(n_samples,)`` for one output, else ``(n_samples, n_outputs)``."""
        out = self._forward(X, "predict")
        if out.shape[1] == 1:
            out = self._placement.runtime.xp.reshape(out, (-1,))
        return self._placement.output(out)
