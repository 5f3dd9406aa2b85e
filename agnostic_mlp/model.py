"""The model: a thin shell that holds a configuration, parameters and a generator.

:class:`Network` keeps the state (the :class:`~agnostic_mlp.config.MLPConfig`,
the parameters on the device, the host generator) and calls the engine for
the math, :mod:`agnostic_mlp.training` to fit and :mod:`agnostic_mlp.io` for
files. :class:`MLP` adds the tutorial's surface (:mod:`agnostic_mlp.tutorial`).
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from os import PathLike, fspath
from typing import Any, TypeVar, cast

import numpy as np

from ._typing import Array, Namespace
from .activations import Activation
from .backends import Backend, get_backend, to_numpy
from .config import MLPConfig
from .constraints import NONE, InstanceOf, Integer, Options, Real, check
from .data import as_features, as_parameter, as_targets, check_narrowing
from .engine import Objective, Params, finite_params, forward
from .errors import DivergenceError, InvalidArgumentError
from .initializers import Initializer, draw
from .io import checkpoint as checkpoint_file
from .io import format as model_format
from .losses import Loss
from .metrics import R2, Accuracy
from .optimizers import LBFGS, Optimizer, get_optimizer
from .schedules import LearningRate, check_learning_rate
from .streaming import is_streamed, open_features, open_pair
from .training.batches import batch_bounds
from .training.callbacks import Callback, EarlyStopping, Progress, as_callbacks
from .training.checkpointing import Checkpoint
from .training.history import History
from .training.lbfgs import minimize_lbfgs, whole
from .training.loop import Dataset, FitConfig
from .training.loop import fit as run_fit
from .training.parallel import Parallel
from .training.streamed import StreamedDataset, pieces
from .tutorial import TutorialMixin
from .weights import sample_weights

__all__ = ["MLP", "Network"]

_Method = TypeVar("_Method", bound=Callable[..., Any])
#: The native face's data: in memory, or streamed from disk a window at a time.
_Data = Dataset | StreamedDataset
_Self = TypeVar("_Self", bound="Network")


def _on_device(method: _Method) -> _Method:
    """Run ``method`` with the model's device current (CuPy needs it; a no-op elsewhere)."""

    @functools.wraps(method)
    def on_device(self: Network, *args: Any, **kwargs: Any) -> Any:
        with self.runtime.context():
            return method(self, *args, **kwargs)

    return cast("_Method", on_device)


class Network:
    """A multilayer perceptron whose math runs on any Array API backend.

    Parameters
    ----------
    num_inputs : int
        Number of input features.
    hidden_layers : sequence of int
        Width of each hidden layer (may be empty).
    num_outputs : int
        Number of outputs.
    backend : str or module
        ``"numpy"`` (default), ``"cupy"``, ``"torch"``, ``"jax"``,
        ``"array_api_strict"``, or an Array API namespace.
    device : object, optional
        A device of the backend (``"cpu"``, ``"cuda:0"``, ...); its default when None.
    dtype : {"float32", "float64"}
        Floating dtype of parameters and computations.
    seed : int, optional
        Seeds the host ``numpy.random.Generator`` that draws initial weights and
        shuffles batches: the same seed gives the same model on every backend.
    bias : bool
        Whether layers have biases (the tutorial's layers have none).
    activation : str, Activation or sequence of them
        Hidden-layer activation, or one per hidden layer: ``"sigmoid"`` (the
        tutorial's), ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"identity"``.
    output_activation : str or Activation, optional
        Output activation; by default what the loss needs (softmax for
        categorical, sigmoid for binary cross-entropy) and sigmoid for MSE.
    loss : str or Loss
        ``"mse"``, ``"binary_cross_entropy"`` or ``"categorical_cross_entropy"``.
    init : str or callable, optional
        ``"uniform"`` (the tutorial's [0, 1)), ``"glorot"`` or ``"he"``; by
        default each layer's suits its activation: He for ReLU-like ones, Glorot
        otherwise. Biases start at 0.
    optimizer : str or Optimizer
        What :meth:`fit` uses unless told otherwise: ``"sgd"``, ``"adam"``, or an instance.
    """

    config: MLPConfig
    runtime: Backend
    rng: np.random.Generator

    def __init__(
        self,
        num_inputs: int = 3,
        hidden_layers: Sequence[int] = (3, 3),
        num_outputs: int = 2,
        *,
        backend: Any = "numpy",
        device: Any = None,
        dtype: Any = "float32",
        seed: int | None = None,
        bias: bool = True,
        activation: str | Activation | Sequence[str | Activation] = "sigmoid",
        output_activation: str | Activation | None = None,
        loss: str | Loss = "mse",
        init: str | Initializer | None = None,
        optimizer: str | Optimizer = "sgd",
    ) -> None:
        config = MLPConfig(
            num_inputs=num_inputs, hidden_layers=hidden_layers, num_outputs=num_outputs,
            dtype=dtype, seed=seed, bias=bias, activation=activation,
            output_activation=output_activation, loss=loss, init=init, optimizer=optimizer)
        runtime = get_backend(backend, device, config.dtype)
        # One host generator draws the weights, then shuffles batches in fit.
        rng = np.random.default_rng(config.seed)
        weights, biases = draw(rng, config.layers, [a.name for a in config.activations],
                               config.init, config.bias, config.dtype)
        self._set_up(config, runtime, [*weights, *biases], rng)

    @classmethod
    def classifier(cls: type[_Self], num_inputs: int, hidden_layers: Sequence[int],
                   num_classes: int, *, activation: str | Activation = "relu",
                   optimizer: str | Optimizer = "adam", **kwargs: Any) -> _Self:
        """A classifier of ``num_classes`` classes: softmax outputs, categorical cross-entropy.

        It is trained on integer labels in ``[0, num_classes)`` (or one-hot rows),
        and predicts probabilities (:meth:`predict_proba`) and labels
        (:meth:`predict_classes`). Hidden layers are ReLU (He's initialisation),
        trained with Adam; ``kwargs`` are the constructor's other arguments
        (``backend``, ``device``, ``dtype``, ``seed``, ...).
        """
        classes = check(num_classes, "num_classes", Integer(2))
        return cls(num_inputs, hidden_layers, classes, activation=activation,
                   loss="categorical_cross_entropy", optimizer=optimizer, **kwargs)

    @classmethod
    def regressor(cls: type[_Self], num_inputs: int, hidden_layers: Sequence[int],
                  num_outputs: int = 1, *, activation: str | Activation = "relu",
                  optimizer: str | Optimizer = "adam", **kwargs: Any) -> _Self:
        """A regressor: linear (``"identity"``) outputs of any range, mean squared error.

        Hidden layers are ReLU (He's initialisation), trained with Adam;
        ``kwargs`` are the constructor's other arguments.
        """
        return cls(num_inputs, hidden_layers, num_outputs, activation=activation,
                   output_activation="identity", loss="mse", optimizer=optimizer, **kwargs)

    def _set_up(self, config: MLPConfig, runtime: Backend, params: Sequence[Any],
                rng: np.random.Generator, owned: bool = False) -> None:
        """``params`` are host arrays; ``owned`` ones (the list is emptied) are not copied."""
        self.config, self.runtime, self.rng = config, runtime, rng
        n = len(config.layers) - 1
        with runtime.context():
            if owned and isinstance(params, list):
                params.reverse()  # moved one at a time, so only one is ever held twice
                moved = [runtime.adopt(params.pop()) for _ in range(len(params))]
            else:
                moved = [runtime.asarray(p) for p in params]
        self._params = Params(tuple(moved[:n]), tuple(moved[n:]))

    @classmethod
    def from_config(cls: type[_Self], config: MLPConfig, params: Sequence[Any],
                    rng: np.random.Generator, *, backend: Any = "numpy",
                    device: Any = None) -> _Self:
        """A model of ``config`` with the given flat parameters and generator.

        ``params`` are the weights then the biases (:meth:`MLPConfig.param_shapes`),
        host arrays or arrays of the backend, checked as the ``weights`` and
        ``biases`` setters check them; the model keeps copies.
        """
        config = check(config, "config", InstanceOf(MLPConfig))
        rng = check(rng, "rng", InstanceOf(np.random.Generator, "a numpy.random.Generator"))
        runtime = get_backend(backend, device, config.dtype)
        n = len(config.layers) - 1
        model = cls.__new__(cls)
        model.config, model.runtime, model.rng = config, runtime, rng
        with runtime.context():
            flat = Network._checked(model, params, "params", config.param_shapes())
        model._params = Params(flat[:n], flat[n:])
        return model

    @classmethod
    def _built(cls: type[_Self], config: MLPConfig, runtime: Backend, params: Sequence[Any],
               rng: np.random.Generator, owned: bool = False) -> _Self:
        model = cls.__new__(cls)
        model._set_up(config, runtime, params, rng, owned)
        return model

    # -- configuration and placement --------------------------------------------

    @property
    def backend(self) -> str:
        """The backend's name."""
        return self.runtime.name

    @property
    def xp(self) -> Namespace:
        """The Array API namespace the model computes with."""
        return self.runtime.xp

    @property
    def device(self) -> Any:
        """The device the model's arrays live on."""
        return self.runtime.device

    @property
    def dtype(self) -> Any:
        """The floating dtype of the parameters."""
        return self.runtime.dtype

    @property
    def num_inputs(self) -> int:
        """Input features."""
        return self.config.num_inputs

    @property
    def hidden_layers(self) -> list[int]:
        """Hidden layers' widths."""
        return list(self.config.hidden_layers)

    @property
    def num_outputs(self) -> int:
        """Outputs."""
        return self.config.num_outputs

    @property
    def layers(self) -> list[int]:
        """Every layer's width, inputs first."""
        return self.config.layers

    @property
    def layer_activations(self) -> list[Activation]:
        """Each layer's activation, the output's last."""
        return list(self.config.activations)

    @property
    def loss(self) -> Loss:
        """What training minimises."""
        return self.config.loss

    @property
    def optimizer(self) -> Optimizer:
        """What :meth:`fit` uses unless told otherwise (it keeps its state between fits)."""
        return self.config.optimizer

    @property
    def seed(self) -> int | None:
        """The seed the generator started from."""
        return self.config.seed

    @property
    def bias(self) -> bool:
        """Whether layers have biases."""
        return self.config.bias

    @property
    def init(self) -> Any:
        """The initialiser asked for (None: each layer's default)."""
        return self.config.init

    # -- parameters --------------------------------------------------------------

    @property
    def params(self) -> Params:
        """The parameters, as the engine takes them. Training replaces them, never changes them."""
        return self._params

    def identity(self) -> dict[str, Any]:
        """What a run's identity holds of this model beyond its layers: seed and initializer."""
        data = self.config.to_json()
        return {"seed": data["seed"], "init": data["init"]}

    def commit(self, params: Params, rng_state: dict[str, Any] | None = None) -> None:
        """Replace the parameters (and the generator's state) at once.

        ``params`` must be arrays of this model's backend, device, dtype and
        shapes: this is how training hands over its result, unchecked. To set
        parameters from user data, assign ``weights`` and ``biases``.
        """
        self._params = params
        if rng_state is not None:
            self.rng.bit_generator.state = rng_state

    @property
    def weights(self) -> tuple[Array, ...]:
        """Weight matrices, ``(n_in, n_out)`` per layer; assign a list to set them."""
        return self._params.weights

    @weights.setter
    @_on_device
    def weights(self, values: Sequence[Any]) -> None:
        shapes = self.config.param_shapes()[: len(self.config.layers) - 1]
        self.commit(Params(self._checked(values, "weights", shapes), self._params.biases))

    @property
    def biases(self) -> tuple[Array, ...]:
        """Bias vectors, ``(n_out,)`` per layer (empty with ``bias=False``)."""
        return self._params.biases

    @biases.setter
    @_on_device
    def biases(self, values: Sequence[Any]) -> None:
        shapes = self.config.param_shapes()[len(self.config.layers) - 1:]
        self.commit(Params(self._params.weights, self._checked(values, "biases", shapes)))

    def _checked(self, values: Any, name: str, shapes: list[tuple[int, ...]]) -> tuple[Any, ...]:
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise InvalidArgumentError(
                f"{name} must be a list of {len(shapes)} arrays, got {type(values).__name__}")
        values = list(values)
        if len(values) != len(shapes):
            raise InvalidArgumentError(
                f"{name} must be a list of {len(shapes)} arrays, got {len(values)}")
        # Same checks as data (kind, device, backend, finiteness), naming the entry.
        return tuple(as_parameter(self.runtime, v, shape, f"{name}[{i}]")
                     for i, (v, shape) in enumerate(zip(values, shapes, strict=True)))

    def parameters(self) -> list[Array]:
        """Weights then biases, in one list (the order optimizers see)."""
        return list(self._params.flat())

    # -- training ------------------------------------------------------------------

    @_on_device
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int = 10,
        batch_size: int = 32,
        optimizer: str | Optimizer | LBFGS | None = None,
        learning_rate: LearningRate | None = None,
        shuffle: bool = True,
        validation_split: float = 0.0,
        validation_data: tuple[Any, Any] | None = None,
        early_stopping: bool | EarlyStopping = False,
        patience: int = 10,
        verbose: int = 1,
        callbacks: Callback | Callable[..., Any] | Sequence[Any] | None = None,
        checkpoint: str | PathLike[str] | None = None,
        parallel: Parallel | None = None,
        sample_weight: Any = None,
        class_weight: str | Mapping[int, float] | None = None,
    ) -> History:
        """Train on ``(X, y)`` with mini-batches.

        Parameters
        ----------
        X, y : array-like
            Features ``(n_samples, num_inputs)``; targets ``(n_samples, num_outputs)``,
            1-D for one output, or integer class labels for categorical cross-entropy.
            Data on disk (a NumPy memmap, an HDF5 dataset, a Zarr or Dask array)
            or wrapped in :class:`~agnostic_mlp.Stream` is read a window at a time
            and shuffled window by window (:mod:`agnostic_mlp.training.streamed`).
        epochs : int
            Passes over the training data (a resumed run continues up to this epoch).
        batch_size : int
            Samples per gradient step.
        optimizer : str, Optimizer or LBFGS, optional
            ``"sgd"``, ``"adam"`` or an instance; the model's own by default. An
            instance (the model's own included) keeps its state between calls to
            ``fit``, as in Keras and PyTorch; a name builds a fresh one.
            ``"lbfgs"`` or an :class:`~agnostic_mlp.optimizers.LBFGS` trains with
            full-batch L-BFGS instead of mini-batches: ``epochs`` is then its most
            iterations, ``batch_size`` and ``shuffle`` do not apply, and neither
            do validation, early stopping, callbacks, checkpoints, ``parallel``
            and ``learning_rate`` (refused); ``history["loss"]`` holds the
            objective after each iteration. See :class:`~agnostic_mlp.optimizers.LBFGS`
            for its memory cost.
        learning_rate : float or callable, optional
            Sets the optimizer's learning rate, which it keeps (a schedule: a
            callable of the step number).
        shuffle : bool
            Shuffle the training samples every epoch with the model's generator.
        validation_split : float
            Fraction of samples, taken from the end (before shuffling, as Keras),
            held out for validation.
        validation_data : (X_val, y_val), optional
            Explicit validation data; takes precedence over ``validation_split``.
        early_stopping : bool or EarlyStopping
            Stop when the monitored loss stops improving; True uses ``patience``.
        patience : int
            Epochs without improvement before stopping, when ``early_stopping=True``.
        verbose : int
            0 silent, 1 a progress bar (tqdm if installed, else a line per epoch)
            that moves within each epoch as its batches go, 2 a line per epoch.
        callbacks : Callback, callable or list of them, optional
            :class:`~agnostic_mlp.Callback` objects, or callables ``f(model, epoch, logs)``;
            either stops training by returning True.
        checkpoint : path, optional
            Save a checkpoint there after each epoch; if one of the same run
            exists (same model, data, batches, optimizer, callbacks), resume
            from it. One of another run, or a damaged one, raises
            :class:`~agnostic_mlp.ModelFileError` before training.
        parallel : Parallel, optional
            Train across processes, each on its own ``(X, y)`` with ``batch_size``
            samples per step: :class:`~agnostic_mlp.distributed.MPIDataParallel`
            under ``mpiexec``. One process alone by default.
        sample_weight : array-like of shape (n_samples,) or number, optional
            Each sample's weight in the training loss (non-negative, not all zero),
            as scikit-learn's ``fit(X, y, sample_weight)``; data in memory only.
            Rows held out by ``validation_split`` drop theirs: the validation loss
            is unweighted.
        class_weight : None, "balanced" or dict, optional
            For classifiers: each class's weight, multiplied into ``sample_weight``,
            as scikit-learn's ``compute_sample_weight`` (``"balanced"``:
            ``n_samples / (n_classes * count)``; a dict ``{label: weight}``, 1 for
            labels it leaves out).

        Returns
        -------
        History

        Raises
        ------
        ValueError, TypeError
            For bad arguments or data, before the model is changed.
        ModelFileError
            If ``checkpoint`` names a damaged checkpoint or one of another run.
        DivergenceError
            If the loss or the weights become NaN or infinite; the model keeps its
            last finite weights (those the failing batch started from).
        """
        if isinstance(optimizer, LBFGS) or (isinstance(optimizer, str) and optimizer == "lbfgs"):
            given = {"learning_rate": learning_rate, "validation_data": validation_data,
                     "validation_split": validation_split, "early_stopping": early_stopping,
                     "callbacks": callbacks, "checkpoint": checkpoint, "parallel": parallel}
            solver = optimizer if isinstance(optimizer, LBFGS) else LBFGS()
            return self._fit_lbfgs(X, y, solver, epochs, verbose, sample_weight, class_weight,
                                   given)
        config = FitConfig(epochs=epochs, batch_size=batch_size, shuffle=shuffle)
        verbose = int(check(verbose, "verbose", Options((0, 1, 2, False, True))))
        split = check(validation_split, "validation_split", Real(0.0, 1.0, high_open=True))
        if isinstance(early_stopping, bool):
            patience = check(patience, "patience", Integer(0))
            stopper = EarlyStopping(patience=patience) if early_stopping else None
        else:
            stopper = check(early_stopping, "early_stopping", _EARLY_STOPPING)
        extra = as_callbacks(callbacks)
        opt = get_optimizer(optimizer if optimizer is not None else self.optimizer)
        rate = None if learning_rate is None else check_learning_rate(learning_rate)
        saver = None if checkpoint is None else Checkpoint(checkpoint)
        parallel = check(parallel, "parallel", NONE, _PARALLEL)
        train, validation = self._datasets(X, y, split, validation_data)
        if sample_weight is not None or class_weight is not None:
            train = self._weighted(train, validation if validation_data is None else None,
                                   sample_weight, class_weight)
        objective = Objective(self.config.activations, self.loss)
        self._warn_about_targets(train)
        callbacks_ = [Progress(verbose), *([stopper] if stopper else []), *extra,
                      *([saver] if saver else [])]
        with self.runtime.training():  # divergence is reported, not warned of
            return run_fit(self, opt, objective, train, validation, config, callbacks_, rate,
                           parallel)

    def _fit_lbfgs(self, X: Any, y: Any, solver: LBFGS, epochs: int, verbose: Any,
                   sample_weight: Any, class_weight: Any, given: dict[str, Any]) -> History:
        """``fit`` with full-batch L-BFGS (:func:`~agnostic_mlp.training.lbfgs.minimize_lbfgs`)."""
        epochs = check(epochs, "epochs", Integer(1))
        verbose = int(check(verbose, "verbose", Options((0, 1, 2, False, True))))
        for name, value in given.items():
            if value is not None and value is not False and value != 0.0:
                raise InvalidArgumentError(
                    f"{name} does not apply to full-batch L-BFGS (it has no epochs of "
                    f"batches): leave it out, or use optimizer='adam' or 'sgd'")
        train = self._data(X, y)
        if sample_weight is not None or class_weight is not None:
            train = self._weighted(train, None, sample_weight, class_weight)
        self._warn_about_targets(train)
        objective = Objective(self.config.activations, self.loss, l2=solver.l2)
        with self.runtime.training():
            result = minimize_lbfgs(self.runtime, objective, self._params,
                                    whole(self.runtime, train, self._params),
                                    max_iter=epochs, max_fun=solver.max_fun, tol=solver.tol)
        xp = self.xp
        if not finite_params(xp, result.params):
            raise DivergenceError("L-BFGS reached non-finite weights; the model keeps its "
                                  "weights from before fit", epoch=result.n_iter, batch=0)
        self.commit(result.params)
        history = History()
        for i, loss in enumerate(result.iteration_losses):
            history.record(i, {"loss": loss})
        if verbose:
            print(f"L-BFGS: {result.n_iter} iterations, {result.n_fun} evaluations, "
                  f"loss {result.loss:.6g}: {result.message}")
        return history

    def _weighted(self, train: _Data, held_out: _Data | None, sample_weight: Any,
                  class_weight: Any) -> Dataset:
        """``train`` with its samples' weights (``held_out``: the rows split off after it)."""
        if not isinstance(train, Dataset):
            raise InvalidArgumentError(
                "sample_weight and class_weight need data in memory; streamed data has none")
        n_rows = train.n + (0 if held_out is None else held_out.n)
        weights = sample_weights(self.runtime, sample_weight, class_weight, train.y,
                                 self.loss.task, n_rows, train.n)
        return Dataset(train.x, train.y, weights)

    def _datasets(self, X: Any, y: Any, split: float,
                  validation_data: Any) -> tuple[_Data, _Data | None]:
        train = self._data(X, y)
        if validation_data is not None:
            if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
                raise InvalidArgumentError("validation_data must be a pair (X_val, y_val)")
            return train, self._data(validation_data[0], validation_data[1],
                                     ("validation_data[0]", "validation_data[1]"))
        if split > 0:
            n = train.n
            n_val = int(n * split)
            if n_val < 1 or n_val >= n:
                raise InvalidArgumentError(
                    f"validation_split={split} leaves {n_val} validation and {n - n_val} "
                    "training samples; both need at least one")
            return train.split(n_val)
        return train, None

    def _data(self, X: Any, y: Any, names: tuple[str, str] = ("X", "y")) -> _Data:
        """``(X, y)`` checked: on the device, or (on disk) opened to stream."""
        if is_streamed(X) or is_streamed(y):
            data = open_pair(X, y, self.num_inputs, self.num_outputs, self.loss.task, names)
            return StreamedDataset(data, self.num_outputs, self.loss.task)
        return Dataset(*self._checked_pair(X, y, names))

    def _warn_about_targets(self, train: _Data) -> None:
        loss, out = self.loss, self.config.output_activation
        if loss.name != "mse" or out.name != "sigmoid" or not isinstance(train, Dataset):
            return
        xp = self.xp
        low, high = to_numpy(xp.stack([xp.min(train.y), xp.max(train.y)])).tolist()
        if low < 0.0 or high > 1.0:
            warnings.warn(
                f"the targets range over [{low:g}, {high:g}], but a sigmoid output only reaches "
                "(0, 1); for regression build the model with output_activation='identity'",
                UserWarning, stacklevel=4)

    # -- inference ---------------------------------------------------------------

    def _forward(self, x: Array) -> Array:
        return forward(self.xp, self.config.activations, self._params, x)[0]

    @_on_device
    def predict(self, X: Any, *, batch_size: int | None = None) -> Array:
        """Network outputs for ``X``, an array of the model's backend on its device.

        One sample (1-D) gives a 1-D output; probabilities for classifiers.
        """
        batch_size = check(batch_size, "batch_size", NONE, Integer(1))
        if is_streamed(X):
            data = open_features(X, self.num_inputs)
            return self.xp.concat([self._forward_in(x, batch_size)
                                   for window in data.windows(self.runtime)
                                   for x, _ in pieces(self._params, *window)], axis=0)
        x = as_features(self.runtime, X, self.num_inputs, "X", allow_1d=True)
        return self._forward_in(x, batch_size)

    def _forward_in(self, x: Array, batch_size: int | None) -> Array:
        """The outputs for ``x``, ``batch_size`` rows at a time (all at once for None)."""
        if batch_size is None or x.ndim == 1 or x.shape[0] <= batch_size:
            return self._forward(x)
        chunks = [self._forward(x[lo:hi, ...]) for lo, hi in batch_bounds(x.shape[0], batch_size)]
        return self.xp.concat(chunks, axis=0)

    @_on_device
    def predict_proba(self, X: Any) -> Array:
        """Class probabilities: ``(n_samples, n_classes)``; two columns for one binary output."""
        self._require_classifier("predict_proba")
        return self.loss.head.probabilities(self.xp, self.predict(X))

    @_on_device
    def predict_classes(self, X: Any) -> Array:
        """Predicted class labels (integers), or 0/1 per output for binary targets."""
        self._require_classifier("predict_classes")
        return self.loss.head.labels(self.xp, self.predict(X), self.runtime.index_dtype)

    @_on_device
    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """The loss (and accuracy for classifiers) on ``(X, y)``, as Python floats."""
        names = ["loss", "accuracy"] if self.loss.head.classifier else ["loss"]
        objective = Objective(self.config.activations, self.loss)
        values = to_numpy(self._data(X, y).metrics(self.runtime, objective, self._params))
        return {k: float(v) for k, v in zip(names, values, strict=True)}

    @_on_device
    def score(self, X: Any, y: Any) -> float:
        """Accuracy for classifiers (a sample counts when all its labels are right), else R².

        ``X`` and ``y`` may be streamed, as for :meth:`fit`.

        R² is averaged over outputs, as scikit-learn's ``r2_score``: an output
        with constant targets scores 1.0 if predicted exactly, else 0.0.
        """
        head = self.loss.head
        metric = Accuracy(head.hits) if head.classifier else R2()
        # A piece at a time (activations bounded), each piece's parts kept on the device
        # and brought to the host together, merged there.
        parts = [metric.parts(self.xp, self._forward(x), t, None)
                 for window in self._data(X, y).windows(self.runtime)
                 for x, t in pieces(self._params, *window)]
        return metric.value(list(to_numpy(self.xp.stack(parts))))

    def _checked_pair(self, X: Any, y: Any, names: tuple[str, str] = ("X", "y")
                      ) -> tuple[Array, Array]:
        x = as_features(self.runtime, X, self.num_inputs, names[0])
        t = as_targets(self.runtime, y, x.shape[0], self.num_outputs, self.loss.task, names[1],
                       names[0])
        return x, t

    def _require_classifier(self, method: str) -> None:
        if not self.loss.head.classifier:
            raise TypeError(
                f"{method} needs a classifier (a cross-entropy loss); this model's loss is "
                f"{self.loss.name!r}")

    def __repr__(self) -> str:
        acts = [a.name for a in self.layer_activations]
        return (
            f"{type(self).__name__}({self.num_inputs}, {self.hidden_layers}, "
            f"{self.num_outputs}, backend={self.backend!r}, dtype={self.runtime.dtype_name!r}, "
            f"activations={acts}, loss={self.loss.name!r}, bias={self.bias})"
        )

    # -- pickling ------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Plain host arrays, the configuration and where the model ran: no module, no device array.

        A pickle is for trusted data only (unpickling runs code); ``save`` and
        ``load`` are the safe file format.
        """
        backend, device = self.runtime.portable()
        return {"config": self.config, "params": [to_numpy(p).copy() for p in self.parameters()],
                "rng": self.rng, "backend": backend, "device": device}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuilt on the backend and device it ran on (BackendUnavailableError if it cannot)."""
        config: MLPConfig = state["config"]
        runtime = get_backend(state["backend"], state["device"], config.dtype)
        optimizer = config.optimizer
        if optimizer.state is not None:
            with runtime.context():
                optimizer.state = optimizer.state.map_arrays(runtime.asarray)
        self._set_up(config, runtime, state["params"], state["rng"])

    # -- files and devices ---------------------------------------------------------

    @_on_device
    def save(self, path: str | PathLike[str]) -> None:
        """Save the model to ``path``: a safetensors file, written atomically.

        The file holds the weights and biases, and as JSON metadata the
        configuration (architecture, activations, loss, ``bias``, ``dtype``,
        ``seed``, ``init`` when a name, the optimizer's class and
        hyperparameters), the random generator's state and a SHA-256 digest of
        all of it and of the arrays. A learning-rate schedule is not saved (a callable is code):
        the loaded optimizer has its class default.

        Raises
        ------
        ValueError
            If the model uses a custom :class:`~agnostic_mlp.Activation`,
            :class:`~agnostic_mlp.Loss` or :class:`~agnostic_mlp.Optimizer` (only
            built-in ones are stored by name), or has non-finite parameters.
        """
        model_format.write(path, self.config, list(self._params.flat()), self.rng)

    @classmethod
    def load(cls: type[_Self], path: str | PathLike[str], *, backend: Any = "numpy",
             device: Any = None, dtype: Any = None) -> _Self:
        """A model saved by :meth:`save` (or a checkpoint), on any backend and device.

        Parameters
        ----------
        path : str or os.PathLike
            The file.
        backend : str or module
            Where the loaded model runs, whichever backend saved it.
        device : object, optional
            A device of that backend; its default when None.
        dtype : {"float32", "float64"}, optional
            The loaded model's dtype; the saved one when None.

        Raises
        ------
        ModelFileError
            If the file is not a complete, untampered model file of this format.
        ValueError
            If ``backend``, ``device`` or ``dtype`` is unknown (checked first).
        OSError
            If the file cannot be read (``FileNotFoundError``, ...).
        """
        get_backend(backend, device, "float32" if dtype is None else dtype)
        model_file = checkpoint_file.read_any(path)  # a checkpoint holds a model too
        config = model_file.config
        if dtype is not None:
            config = config.replace(dtype=dtype)
        runtime = get_backend(backend, device, config.dtype)  # float64 on JAX needs x64
        params, rng = model_file.params(), model_file.rng
        # Finite in the file is not finite after the cast: checked before anything is made.
        for name, p in zip(config.param_names(), params, strict=True):
            shown = name.replace(".", "[") + "]"  # weights.0: weights[0]
            check_narrowing(p, config.dtype, f"{shown} of {fspath(path)}",
                            f"load it with dtype={model_file.config.dtype!r} (or None)")
        del model_file  # its arrays now live only in params, which the model takes over
        return cls._built(config, runtime, params, rng, owned=True)

    @_on_device
    def to(self: _Self, backend: Any, device: Any = None) -> _Self:
        """The same model on another backend or device, as a new model.

        Weights, biases, components, hyperparameters, the random generator's state
        and the optimizer's state are copied; this model is unchanged. Custom
        activations, losses and optimizers are carried over as they are.
        """
        runtime = get_backend(backend, device, self.runtime.dtype_name)
        optimizer = copy.copy(self.optimizer)
        if optimizer.state is not None:
            # A custom optimizer may keep wider arrays than the model's: cast, they must fit.
            for slot, arrays in optimizer.state.slots().items():
                for i, a in enumerate(arrays):
                    check_narrowing(a, runtime.dtype_name, f"the optimizer's {slot}[{i}]",
                                    "keep the optimizer's state in the model's dtype")
        with runtime.context():
            if optimizer.state is not None:
                optimizer.state = optimizer.state.map_arrays(
                    lambda a: runtime.asarray(to_numpy(a)))
            return type(self)._built(
                self.config.replace(optimizer=optimizer), runtime,
                [to_numpy(p) for p in self._params.flat()], copy.deepcopy(self.rng))


_EARLY_STOPPING = InstanceOf((bool, EarlyStopping), "True, False or an EarlyStopping")
_PARALLEL = InstanceOf(Parallel, "a Parallel, such as agnostic_mlp.distributed.MPIDataParallel()")


class MLP(TutorialMixin, Network):
    """A multilayer perceptron: :class:`Network` with the tutorial's methods.

    ``MLP(2, [5], 1)`` builds the tutorial's network; see :class:`Network` for
    every argument, and :class:`~agnostic_mlp.tutorial.TutorialMixin` for
    ``forward_propagate``, ``back_propagate``, ``gradient_descent`` and ``train``.
    """
