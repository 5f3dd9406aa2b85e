"""What MLPClassifier and MLPRegressor share: scikit-learn's parameters, ``fit`` and
``partial_fit``, the forward pass for predictions, tags and pickling.

``fit`` follows scikit-learn's ``BaseMultilayerPerceptron._fit``: its
initialisation (Glorot-uniform weights and biases drawn from the estimator's
RandomState, layer after layer, with the factor 2 for logistic layers), then
the validation split of early stopping (``train_test_split`` with the same
RandomState, stratified for single-output classifiers), then the stochastic
solver on the library's epoch loop (:mod:`agnostic_mlp.training.loop`), or for
``solver="lbfgs"`` full-batch L-BFGS (:mod:`agnostic_mlp.training.lbfgs`) on
the same data and placement. The math runs on the placement's backend
(:mod:`.placement`). Fitted attributes set by hand on an estimator never fitted
(``coefs_``, ``intercepts_``, ...) are continued from, brought to that backend.

A call that raises leaves the estimator, and the RandomState it drew from, as
they were. Ctrl-C keeps the epochs completed so far, with scikit-learn's
warning.
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import warnings
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._typing import Array
from ..activations import Activation
from ..backends import Backend, get_backend, to_numpy
from ..constraints import NONE, InstanceOf, check
from ..engine import Objective, Params, finite_params
from ..metrics import Score
from ..optimizers import Optimizer
from ..streaming import is_streamed
from ..training.callbacks import Callback, as_callbacks
from ..training.lbfgs import loss_and_gradient, minimize_lbfgs
from ..training.loop import FitConfig
from ..training.loop import fit as run_fit
from ..training.parallel import Parallel
from ..training.streamed import StreamedDataset
from . import persistence
from .activations import activation
from .checkpoint import EstimatorCheckpoint
from .data import Data, dataset, features, full_batch, outputs, streamed_shape, take
from .losses import loss_for
from .params import STOCHASTIC, Settings, solver_settings
from .placement import Placement, check_same_home, checked_input, float_dtypes, native_home
from .policy import NONFINITE, SklearnShuffle, ValidationScore, sklearn_policy
from .stopping import Progress, SklearnStopping

__all__ = ["ENGINE_PARAMETERS", "BaseMLP", "documented"]

_ACCEPT_SPARSE = ["csr", "csc"]
#: What the stochastic solvers record per epoch, and lbfgs does not set (as scikit-learn's).
_STOCHASTIC_RECORD = ("loss_curve_", "best_loss_", "validation_scores_",
                      "validation_loss_curve_", "best_validation_score_",
                      "_no_improvement_count", "_best_coefs", "_best_intercepts")


@dataclass(frozen=True)
class _Portable:
    """A placement in a pickle: names and numbers, no module or device object."""

    backend: str
    device: Any
    dtype: str
    native: bool


@dataclass(frozen=True)
class _Host:
    """An array of the model's device, held on the host inside a pickle."""

    array: np.ndarray


def _to_host(value: Any, runtime: Backend) -> Any:
    if isinstance(value, list):
        return [_to_host(v, runtime) for v in value]
    if runtime.holds(value):
        return _Host(np.array(to_numpy(value), copy=True))
    return value


def _from_host(value: Any, runtime: Backend) -> Any:
    if isinstance(value, list):
        return [_from_host(v, runtime) for v in value]
    if isinstance(value, _Host):
        return runtime.xp.asarray(value.array, device=runtime.device)
    return value


@dataclass
class _Trainee:
    """The estimator's network as the loop trains it: where it runs and its parameters."""

    runtime: Backend
    params: Params
    rng: Any = None  # the estimator's shuffles are scikit-learn's (SklearnShuffle)

    def commit(self, params: Params, rng_state: dict[str, Any] | None = None) -> None:
        self.params = params

    def identity(self) -> dict[str, Any]:
        return {}  # the estimator's parameters are its checkpoint's (EstimatorCheckpoint)


def _weights(sample_weight: Any, n: int, home: tuple[Any, Any] | None) -> Any:
    """Checked sample weights: None, or a 1-D float array of ``n`` finite values."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, (int, float, np.number)) and not isinstance(sample_weight, bool):
        sample_weight = np.full(n, float(sample_weight))
    w = check_array(sample_weight, ensure_2d=False, dtype=float_dtypes(home),
                    input_name="sample_weight")
    if w.ndim != 1 or int(w.shape[0]) != n:
        raise ValueError(f"sample_weight.shape == {tuple(w.shape)}, expected ({n},)!")
    xp = array_api_compat.array_namespace(w)
    if not bool(xp.any(w != 0)):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    # Their sum divides every batch's loss: one that overflows would make every loss NaN.
    total = float(xp.sum(xp.astype(w, xp.float64) if w.dtype != xp.float64 else w))
    if not math.isfinite(total):
        raise ValueError(f"sample_weight sums to {total}; scale the weights down")
    return w


def _dtype_probe(X: Any) -> np.ndarray:
    """An empty array of the dtype validation would give streamed ``X`` (float32 stays
    float32, anything else is float64), for the placement to read."""
    dtype = np.dtype(getattr(getattr(X, "data", X), "dtype", np.float64))
    return np.empty((0, 0), dtype=np.float32 if dtype == np.float32 else np.float64)


_PARALLEL = InstanceOf(Parallel, "a Parallel, such as agnostic_mlp.distributed.MPIDataParallel()")


#: The parameters both estimators add to scikit-learn's, documented once
#: (:func:`documented` puts them in each estimator's docstring).
ENGINE_PARAMETERS = """\
    backend : str or module, optional
        Where to compute (``"numpy"``, ``"torch"``, ``"jax"``, ``"cupy"``,
        ``"array_api_strict"``); NumPy inputs and outputs stay NumPy. None:
        NumPy, or under ``array_api_dispatch`` the input's own namespace.
    device : object, optional
        A device of the backend; None: its default, or the input's.
    dtype : {"float32", "float64"}, optional
        None: the input's (float32 stays float32, anything else is float64), or
        float32 where the backend has no float64 (JAX without 64-bit mode).
    callbacks : Callback, callable or list of them, optional
        The library's callbacks (:class:`~agnostic_mlp.Callback`, or callables
        ``f(model, epoch, logs)``), run after each epoch beside scikit-learn's
        own rules; either stops training by returning True. ``logs`` holds
        ``loss`` (scikit-learn's, as in ``loss_curve_``) and, with early
        stopping, ``val_score``; ``model`` is the network being trained
        (its ``params``).
    checkpoint : str or os.PathLike, optional
        A file where ``fit`` saves the run after every epoch; if it holds this
        run (the same parameters but ``max_iter`` and ``verbose``, the same data),
        ``fit`` resumes from it, and ends as the uninterrupted run would. One of
        another run raises :class:`~agnostic_mlp.ModelFileError` naming what
        differs. Not for ``partial_fit``.
    parallel : Parallel, optional
        Train across processes: :class:`~agnostic_mlp.distributed.MPIDataParallel`
        under ``mpiexec``, each process on its own ``(X, y)``. N processes with
        ``batch_size`` B give the model one process gives on batches made of
        each process's batch, in rank order; ``loss_curve_`` and the scores are
        every process's (a classifier's ``classes_`` the union of their labels).

"""
_ENGINE_MARK = "    {the engine's parameters}\n"


def documented(cls: type) -> type:
    """``cls`` with :data:`ENGINE_PARAMETERS` in its docstring, where it marks them."""
    if cls.__doc__:  # None under python -OO
        cls.__doc__ = cls.__doc__.replace(_ENGINE_MARK, ENGINE_PARAMETERS)
    return cls


class BaseMLP(BaseEstimator):
    """The shared machinery; use :class:`MLPClassifier` or :class:`MLPRegressor`."""

    # Set by the subclasses' constructors (scikit-learn reads their signatures).
    hidden_layer_sizes: Any
    activation: Any
    solver: Any
    alpha: Any
    batch_size: Any
    learning_rate: Any
    learning_rate_init: Any
    power_t: Any
    max_iter: Any
    shuffle: Any
    random_state: Any
    tol: Any
    verbose: Any
    warm_start: Any
    momentum: Any
    nesterovs_momentum: Any
    early_stopping: Any
    validation_fraction: Any
    beta_1: Any
    beta_2: Any
    epsilon: Any
    n_iter_no_change: Any
    max_fun: Any
    backend: Any
    device: Any
    dtype: Any
    callbacks: Any
    checkpoint: Any
    parallel: Any

    _placement: Placement
    coefs_: list[Any]
    intercepts_: list[Any]
    loss_: float | None

    # -- hooks of the subclasses ----------------------------------------------------

    _classifier = False

    def _check_params(self) -> None:
        """Check the subclass's own parameters (with the shared ones, before anything else)."""

    def _targets(self, y: Any, placement: Placement, first_pass: bool, incremental: bool,
                 classes: Any) -> tuple[Array, str]:
        """The device targets ``(n_samples, n_outputs)`` and ``out_activation_``."""
        raise NotImplementedError

    def _with_class_weights(self, weights: Any, targets: Array, incremental: bool) -> Any:
        """``weights`` (None or checked sample weights) times the classes' weights."""
        return weights

    def _stratify(self, y: Array) -> np.ndarray | None:
        """What the validation split stratifies on (the binarized labels), or None."""
        return None

    def _metric(self) -> Score:
        """Early stopping's validation score, as scikit-learn's ``_score``."""
        raise NotImplementedError

    # -- fitting ---------------------------------------------------------------------

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> BaseMLP:
        """Fit the model to ``X`` and ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data; under ``array_api_dispatch`` an array of any Array API
            namespace, fitted on in that namespace and on its device.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classification) or values (regression).
        sample_weight : array-like of shape (n_samples,), optional
            Per-sample weights.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool,
             classes: Any = None) -> BaseMLP:
        settings = solver_settings(self)
        self._check_params()
        callbacks = as_callbacks(self.callbacks)
        check(self.parallel, "parallel", NONE, _PARALLEL)
        if settings.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not settings.stochastic:
            if incremental:  # partial_fit is hidden then; _fit is private
                raise AttributeError(self._not_stochastic())
            for name, value in (("callbacks", callbacks), ("checkpoint", self.checkpoint),
                                ("parallel", self.parallel)):
                if value:
                    raise ValueError(
                        f"{name} is for the stochastic solvers (their epochs); "
                        f"solver={settings.solver!r} runs scipy's L-BFGS on the full batch: "
                        f"leave {name} as None, or use solver='adam' or 'sgd'")
        saved = dict(self.__dict__)
        rng = check_random_state(self.random_state)
        rng_state = rng.get_state()
        try:
            self._fit_checked(X, y, sample_weight, incremental, classes, settings, rng,
                              callbacks)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            rng.set_state(rng_state)
            raise
        return self

    def _fit_checked(self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any,
                     settings: Settings, rng: np.random.RandomState,
                     callbacks: list[Callback]) -> None:
        first_pass = not hasattr(self, "coefs_") or (not settings.warm_start and not incremental)
        home = native_home(X)
        X, y, sample_weight = (checked_input(a, name, home is not None) for a, name in (
            (X, "X"), (y, "y"), (sample_weight, "sample_weight")))
        if is_streamed(X):
            y = self._streamed_targets(X, y, first_pass)
            placement = self._placement_for(_dtype_probe(X), None, first_pass)
        else:
            X, y = validate_data(self, X, y, accept_sparse=_ACCEPT_SPARSE, multi_output=True,
                                 y_numeric=not self._classifier, dtype=float_dtypes(home),
                                 reset=first_pass)
            placement = self._placement_for(X, home, first_pass)
        runtime = placement.runtime
        with runtime.context(), runtime.training():
            y = placement.like_input(y)
            n = streamed_shape(X)[0] if is_streamed(X) else int(X.shape[0])
            weights = _weights(placement.like_input(sample_weight), n, home)
            targets, out_activation = self._targets(y, placement, first_pass, incremental, classes)
            weights = self._with_class_weights(weights, targets, incremental)
            n_outputs = int(targets.shape[1])
            if not first_pass and n_outputs != self.n_outputs_:
                raise ValueError(f"y has {n_outputs} outputs, but the model was fitted with "
                                 f"{self.n_outputs_}; fit it anew (warm_start=False)")
            self._random_state = rng
            layers = [self.n_features_in_, *settings.hidden_layer_sizes, n_outputs]
            if first_pass:
                params = self._initialize(runtime, layers, out_activation, settings, rng)
            self._placement = placement
            if not first_pass:
                params = self._params_of(self.coefs_, self.intercepts_)
            self._train(X, targets, weights, params, settings, incremental, first_pass, rng,
                        callbacks)

    def _streamed_targets(self, X: Any, y: Any, first_pass: bool) -> Any:
        """For features on disk (read by windows, never whole): check their shape, and read
        ``y`` whole, checked as scikit-learn checks it (its labels are a column)."""
        shape = streamed_shape(X)
        if len(shape) != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {shape}")
        self._check_n_features(shape[1], first_pass)
        if is_streamed(y):
            y = np.asarray(getattr(y, "data", y)[:])
        y = check_array(y, ensure_2d=False, dtype=None if self._classifier else "numeric",
                        input_name="y")
        if int(y.shape[0]) != shape[0]:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{shape[0]}, {int(y.shape[0])}]")
        return y

    def _check_n_features(self, n_features: int, reset: bool) -> None:
        if reset:
            self.n_features_in_ = n_features
            self.__dict__.pop("feature_names_in_", None)
        elif n_features != self.n_features_in_:
            raise ValueError(f"X has {n_features} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")

    def _placement_for(self, X: Any, home: tuple[Any, Any] | None, first_pass: bool) -> Placement:
        previous = self.__dict__.get("_placement")
        if first_pass or previous is None:
            # None: fitted attributes set by hand (coefs_, intercepts_, ...) and never fitted;
            # they are brought to where this data is computed on.
            return Placement.resolve(self.backend, self.device, self.dtype, X, home)
        dtype = self.dtype if self.dtype is not None else previous.runtime.dtype_name
        placement = Placement.resolve(self.backend, self.device, dtype, X, home)
        if placement != previous:
            raise ValueError(
                f"this call would compute on {placement.runtime.name} {placement.runtime.device!r} "
                f"in {placement.runtime.dtype_name} ({'native' if placement.native else 'NumPy'} "
                f"arrays), but the model was fitted on {previous.runtime.name} "
                f"{previous.runtime.device!r} in {previous.runtime.dtype_name} "
                f"({'native' if previous.native else 'NumPy'} arrays); continue on the same data "
                "namespace, backend, device and dtype, or fit anew (warm_start=False)")
        return placement

    def _initialize(self, runtime: Backend, layers: list[int], out_activation: str,
                    settings: Settings, rng: np.random.RandomState) -> Params:
        """scikit-learn's ``_initialize``: attributes, and weights drawn in its order."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = layers[-1]
        self.n_layers_ = len(layers)
        self.out_activation_ = out_activation
        weights, biases = [], []
        factor = 2.0 if settings.activation == "logistic" else 6.0
        for fan_in, fan_out in itertools.pairwise(layers):
            bound = np.sqrt(factor / (fan_in + fan_out))
            weights.append(runtime.asarray(rng.uniform(-bound, bound, (fan_in, fan_out))))
            biases.append(runtime.asarray(rng.uniform(-bound, bound, fan_out)))
        params = Params(tuple(weights), tuple(biases))
        if not settings.stochastic:
            # scikit-learn keeps no per-iteration record for lbfgs: none of it is set
            # (nor is a previous fit's left behind).
            for name in _STOCHASTIC_RECORD:
                self.__dict__.pop(name, None)
            return params
        self.loss_curve_: list[float] = []
        self._no_improvement_count = 0
        if settings.early_stopping:
            self.validation_scores_: list[float] | None = []
            self.validation_loss_curve_: list[float] | None = []
            self.best_validation_score_: float | None = -np.inf
            self.best_loss_: float | None = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.validation_loss_curve_ = None
            self.best_validation_score_ = None
        return params

    def _train(self, X: Any, targets: Array, weights: Any, params: Params, settings: Settings,
               incremental: bool, first_pass: bool, rng: np.random.RandomState,
               callbacks: list[Callback]) -> None:
        """scikit-learn's ``_fit_stochastic`` on the library's loop: split, batch size,
        optimizer, then the epochs with scikit-learn's policy and stopping rules; or its
        ``_fit_lbfgs`` (:meth:`_train_lbfgs`)."""
        if not settings.stochastic:
            self._train_lbfgs(X, targets, weights, params, settings)
            return
        placement = self._placement
        runtime = placement.runtime
        if not incremental or not hasattr(self, "_optimizer"):
            optimizer = settings.optimizer(self)
            optimizer.state = optimizer.init(runtime.xp, params.flat())
        else:
            # A copy (its rate changes are this call's until committed); copying an
            # optimizer copies its state to the host, so the device's is taken back.
            optimizer = copy.copy(self._optimizer)
            optimizer.state = self._optimizer.state
        w = None if weights is None else placement.sample_weights(weights)
        train = dataset(runtime, X, targets, w)
        validation = None
        if settings.early_stopping:
            train, validation = self._split(train, settings, rng)
        n = train.n
        if settings.batch_size is None:
            batch_size = min(200, n)
        else:
            if settings.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped", stacklevel=5)
            batch_size = min(settings.batch_size, n)
        acts = self._activations(len(params.weights))
        objective = Objective(acts, loss_for(self.out_activation_), l2=settings.alpha)
        score = None if validation is None else ValidationScore(acts, self._metric(),
                                                                objective.loss)
        shuffle = SklearnShuffle(rng, n, settings.shuffle)
        stopping = SklearnStopping(self._progress(settings, params, first_pass), params,
                                   settings.tol, settings.n_iter_no_change, settings.verbose,
                                   None if score is None else score.losses, order=shuffle)
        callbacks = [stopping, *callbacks]
        epochs = 1 if incremental else settings.max_iter
        if self.checkpoint is not None:
            if incremental:
                raise ValueError("checkpoint is for fit; partial_fit runs one epoch and returns")
            layers = [self.n_features_in_, *settings.hidden_layer_sizes, self.n_outputs_]
            parallel = Parallel() if self.parallel is None else self.parallel
            saver = EstimatorCheckpoint(
                self.checkpoint, self,
                EstimatorCheckpoint.fingerprint(self, runtime, layers, train, validation,
                                                parallel),
                stopping, shuffle, settings, parallel)
            resumed = saver.saved()
            if resumed is not None:
                saved = resumed.estimator
                params = self._params_of(saved.coefs_, saved.intercepts_)
                best = self._params_of(saved._best_coefs, saved._best_intercepts) if hasattr(
                    saved, "_best_coefs") else None
                optimizer = saved._optimizer
                saver.restore(resumed, params, best)
                epochs = 0 if stopping.stopped else settings.max_iter - stopping.progress.n_iter
            callbacks.append(saver)
        trainee = _Trainee(runtime, params)
        interrupted = False
        try:
            if epochs > 0:
                config = FitConfig(epochs=epochs, batch_size=batch_size,
                                   shuffle=settings.shuffle)
                run_fit(trainee, optimizer, objective, train, validation, config, callbacks,
                        parallel=self.parallel, shuffle=shuffle, policy=sklearn_policy(score))
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=5)
            interrupted = True
            stopping.rewind()  # the optimizer and generator of the record's weights
        progress = stopping.progress
        # Interrupted, the weights the record belongs to; else the last committed, which
        # a callback of the user's may have chosen (EarlyStopping's best).
        params = stopping.params if interrupted else trainee.params
        if validation is not None and progress.best_params is not None:
            params = progress.best_params
            if not finite_params(runtime.xp, params):
                raise ValueError(NONFINITE)
        if not (incremental or stopping.stopped) and progress.n_iter == settings.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({settings.max_iter}) reached and the "
                "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=5)
        self._optimizer: Optimizer = optimizer
        self._commit(params, progress, settings)

    def _train_lbfgs(self, X: Any, targets: Array, weights: Any, params: Params,
                     settings: Settings) -> None:
        """scikit-learn's ``_fit_lbfgs``: scipy's L-BFGS-B over the flattened parameters,
        the loss and gradient computed on the device over the whole data (dense, sparse
        or streamed: :func:`~.data.full_batch`). Early stopping does not apply, as in
        scikit-learn."""
        placement = self._placement
        runtime = placement.runtime
        w = None if weights is None else placement.sample_weights(weights)
        data = dataset(runtime, X, targets, w)
        objective = Objective(self._activations(len(params.weights)),
                              loss_for(self.out_activation_), l2=settings.alpha)
        result = minimize_lbfgs(runtime, objective, params, full_batch(runtime, data, params),
                                max_iter=settings.max_iter, max_fun=settings.max_fun,
                                tol=settings.tol, iprint=1 if settings.verbose else -1)
        if not result.converged:
            message = (f"lbfgs failed to converge after {result.n_iter} iteration(s) "
                       f"(status={result.status}):\n{result.message}\n")
            if result.n_iter == settings.max_iter:
                message += ("\nIncrease the number of iterations to improve the convergence "
                            f"(max_iter={settings.max_iter}).")
            message += ("\nYou might also want to scale the data as shown in:\n"
                        "    https://scikit-learn.org/stable/modules/preprocessing.html")
            warnings.warn(message, ConvergenceWarning, stacklevel=6)
        xp = runtime.xp
        if not finite_params(xp, result.params):
            raise ValueError(NONFINITE)
        output = placement.output
        self.coefs_ = [output(w) for w in result.params.weights]
        self.intercepts_ = [output(b) for b in result.params.biases]
        self.n_iter_ = result.n_iter
        self.loss_ = result.loss

    def _loss_grad_lbfgs(self, packed_coef_inter: np.ndarray, X: Any, y: Any,
                         sample_weight: Any, *buffers: Any) -> tuple[float, np.ndarray]:
        """scikit-learn's (private) objective of lbfgs at the flat parameters: the loss and
        its flat gradient at ``packed_coef_inter`` for encoded targets ``y`` (n, n_outputs),
        computed on the fitted model's device. ``buffers`` (scikit-learn's work arrays)
        are not used. The fitted weights are left as they are."""
        check_is_fitted(self)
        placement = self._placement
        runtime = placement.runtime
        with runtime.context():
            params = self._params_of(self.coefs_, self.intercepts_)
            x = X if sp.issparse(X) else features(runtime, X)
            t = placement.values(y)
            t = runtime.xp.reshape(t, (int(t.shape[0]), -1))
            w = None if sample_weight is None else placement.values(sample_weight)
            data = dataset(runtime, x, t, w)
            objective = Objective(self._activations(len(params.weights)),
                                  loss_for(self.out_activation_), l2=float(self.alpha))
            return loss_and_gradient(runtime, objective, params, np.asarray(packed_coef_inter),
                                     full_batch(runtime, data, params))

    def _not_stochastic(self) -> str:
        return ("partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic.")

    def _check_solver(self) -> bool:
        """Whether ``partial_fit`` exists: for the stochastic solvers only (scikit-learn's
        rule, through ``available_if``); else AttributeError, with scikit-learn's message."""
        if self.solver not in STOCHASTIC:
            raise AttributeError(self._not_stochastic())
        return True

    def _params_of(self, coefs: list[Any], intercepts: list[Any]) -> Params:
        placement = self._placement
        return Params(tuple(placement.values(c) for c in coefs),
                      tuple(placement.values(b) for b in intercepts))

    def _activations(self, n_layers: int) -> tuple[Activation, ...]:
        hidden = [activation(self.activation)] * (n_layers - 1)
        return (*hidden, activation(self.out_activation_))

    def _split(self, train: Data, settings: Settings,
               rng: np.random.RandomState) -> tuple[Data, Data]:
        """The held-out set, drawn as scikit-learn's ``train_test_split`` draws it; of
        streamed data, its last ``ceil(validation_fraction * n_samples)`` rows."""
        runtime = self._placement.runtime
        if isinstance(train, StreamedDataset):
            n_val = math.ceil(settings.validation_fraction * train.n)
            if n_val < 2 or n_val >= train.n:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            return train.split(n_val)
        train_idx, val_idx = train_test_split(
            np.arange(train.n), random_state=rng, test_size=settings.validation_fraction,
            stratify=self._stratify(train.y) if self.n_outputs_ == 1 else None)
        if val_idx.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return take(runtime, train, train_idx), take(runtime, train, val_idx)

    def _progress(self, settings: Settings, params: Params, first_pass: bool) -> Progress:
        """The solver's record so far (a copy, committed only if the call succeeds)."""
        # Attributes may be missing: set by hand (scikit-learn's tests set some), or left
        # unset by an lbfgs fit this one continues from.
        get = self.__dict__.get
        progress = Progress(n_iter=0, t=get("t_", 0), loss=get("loss_"),
                            loss_curve=list(get("loss_curve_") or []),
                            best_loss=get("best_loss_", np.inf),
                            validation_scores=get("validation_scores_"),
                            best_validation_score=get("best_validation_score_"),
                            no_improvement_count=get("_no_improvement_count", 0))
        if settings.early_stopping:
            if first_pass or progress.validation_scores is None or (
                    "_best_coefs" not in self.__dict__):  # a fresh record
                progress.validation_scores, progress.best_validation_score = [], -np.inf
                progress.validation_loss_curve = []
                progress.best_params = params  # scikit-learn's copy of the initial weights
            else:  # warm start: the best so far is the previous fit's
                placement = self._placement
                progress.validation_scores = list(progress.validation_scores)
                progress.best_validation_score = self.best_validation_score_
                progress.validation_loss_curve = list(get("validation_loss_curve_") or [])
                progress.best_params = Params(
                    tuple(placement.values(c) for c in self._best_coefs),
                    tuple(placement.values(b) for b in self._best_intercepts))
        elif progress.best_loss is None:  # the previous fit had early stopping
            progress.best_loss = np.inf
        return progress

    def _commit(self, params: Params, progress: Progress, settings: Settings) -> None:
        output = self._placement.output
        self.coefs_ = [output(w) for w in params.weights]
        self.intercepts_ = [output(b) for b in params.biases]
        self.n_iter_ = progress.n_iter
        self.t_ = progress.t
        self.loss_ = progress.loss
        self.loss_curve_ = progress.loss_curve
        self.best_loss_ = progress.best_loss
        self.validation_scores_ = progress.validation_scores
        self.validation_loss_curve_ = progress.validation_loss_curve
        self.best_validation_score_ = progress.best_validation_score
        self._no_improvement_count = progress.no_improvement_count
        if settings.early_stopping and progress.best_params is not None:
            # Final weights are the best ones: the same arrays, no second transfer.
            self._best_coefs, self._best_intercepts = list(self.coefs_), list(self.intercepts_)

    # -- predicting ------------------------------------------------------------------

    def _forward(self, X: Any, method: str) -> Array:
        """The network's outputs for ``X``, on the device."""
        check_is_fitted(self)
        check_same_home(self, X, method)
        home = native_home(X)
        X = checked_input(X, "X", home is not None)
        if is_streamed(X):
            self._check_n_features(streamed_shape(X)[-1], reset=False)
        else:
            X = validate_data(self, X, accept_sparse=_ACCEPT_SPARSE, dtype=float_dtypes(home),
                              reset=False)
        placement = self._placement
        runtime = placement.runtime
        with runtime.context():
            params = Params(tuple(placement.values(c) for c in self.coefs_),
                            tuple(placement.values(b) for b in self.intercepts_))
            if not (sp.issparse(X) or is_streamed(X)):
                X = features(runtime, X)
            return outputs(runtime, self._activations(len(self.coefs_)), params, X)

    # -- files ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the fitted estimator to ``path``: a safetensors file, written atomically.

        It holds the weights, the optimizer's state and (with early stopping) the
        best weights, and as JSON the parameters but ``backend``, ``device``,
        ``callbacks`` and ``checkpoint``, the fitted attributes and ``classes_`` (strings, integers,
        booleans or floats). Unlike a pickle, loading it runs no code.

        Raises
        ------
        InvalidArgumentError
            If a parameter is an object a file cannot hold (a RandomState as
            ``random_state``), a label type is mixed, or a weight is not finite.
        """
        persistence.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, backend: Any = None,
             device: Any = None) -> Any:
        """An estimator saved by :meth:`save`, computing on ``backend`` and ``device``.

        Parameters
        ----------
        path : str or os.PathLike
        backend : str or module, optional
            Where the loaded estimator computes (NumPy by default), whichever saved
            it; inputs and outputs are NumPy arrays.
        device : object, optional
            A device of that backend.

        Raises
        ------
        ModelFileError
            If the file is not a complete, untampered estimator file of this class.
        """
        return persistence.load(cls, path, backend, device)

    # -- scikit-learn's protocol ---------------------------------------------------------

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags

    def __getstate__(self) -> dict[str, Any]:
        """Plain host arrays and the configuration: no module, no device array.

        Arrays of the model's device are copied to the host and the placement is
        kept as names; :meth:`__setstate__` rebuilds both on the same backend and
        device. A pickle is for trusted data only (unpickling runs code).
        """
        state = dict(super().__getstate__())
        placement = state.get("_placement")
        if isinstance(placement, Placement):
            runtime = placement.runtime
            backend, device = runtime.portable()
            state["_placement"] = _Portable(backend, device, runtime.dtype_name, placement.native)
            state = {k: _to_host(v, runtime) for k, v in state.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuilt on the backend and device it was fitted on (BackendUnavailableError if it
        cannot run here)."""
        portable = state.get("_placement")
        if isinstance(portable, _Portable):
            runtime = get_backend(portable.backend, portable.device, portable.dtype)
            state = {k: _from_host(v, runtime) for k, v in state.items()}
            state["_placement"] = Placement(runtime, portable.native)
            optimizer = state.get("_optimizer")
            if optimizer is not None and optimizer.state is not None:
                with runtime.context():
                    optimizer.state = optimizer.state.map_arrays(runtime.asarray)
        super().__setstate__(state)
