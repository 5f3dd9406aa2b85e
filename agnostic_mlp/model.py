"""The multilayer perceptron: parameters, forward pass and backpropagation.

The math is written once against the Array API: ``xp`` is the model's
namespace, whichever backend it is. The tutorial's surface (``weights``,
``derivatives``, ``activations``, ``forward_propagate``, ``back_propagate``,
``gradient_descent``, ``train``) keeps its meaning; ``fit`` and the inference
methods are what users of scikit-learn, Keras and PyTorch expect.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from . import data
from .activations import Activation, get_activation
from .backends import get_backend, to_numpy, writeable
from .initializers import default_init, get_initializer
from .losses import Loss, TutorialError, get_loss
from .optimizers import SGD, Optimizer, get_optimizer

if TYPE_CHECKING:
    from os import PathLike

    from .training import History

__all__ = ["MLP"]

_Method = TypeVar("_Method", bound=Callable[..., Any])

# On a CPU, a descent step subtracts a large weight gradient in row blocks of
# at most this size: each block is still in cache when it is subtracted, and
# stays below glibc's 32 MiB ceiling for reusing freed memory (a fresh mapping
# would page-fault on every step).
DESCENT_BLOCK_BYTES = 16 * 2**20


def _on_device(method: _Method) -> _Method:
    """Run ``method`` with the model's device current (CuPy needs it; a no-op elsewhere)."""

    @functools.wraps(method)
    def on_device(self: MLP, *args: Any, **kwargs: Any) -> Any:
        with self._backend.context():
            return method(self, *args, **kwargs)

    return cast("_Method", on_device)


class MLP:
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
        init: Any = None,
        optimizer: str | Optimizer = "sgd",
    ) -> None:
        self.num_inputs = data.check_int(num_inputs, "num_inputs", 1)
        if isinstance(hidden_layers, (str, bytes)) or not isinstance(
                hidden_layers, (Sequence, np.ndarray)) or np.ndim(hidden_layers) != 1:
            raise ValueError(f"hidden_layers must be a list of ints, got {hidden_layers!r}")
        self.hidden_layers = [
            data.check_int(h, f"hidden_layers[{i}]", 1) for i, h in enumerate(hidden_layers)
        ]
        self.num_outputs = data.check_int(num_outputs, "num_outputs", 1)
        self.layers = [self.num_inputs, *self.hidden_layers, self.num_outputs]
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        if not isinstance(bias, bool):
            raise ValueError(f"bias must be True or False, got {bias!r}")

        self.loss = get_loss(loss)
        if isinstance(activation, (str, Activation)):
            hidden = [get_activation(activation)] * len(self.hidden_layers)
        else:
            acts = list(activation)
            if len(acts) != len(self.hidden_layers):
                raise ValueError(
                    f"activation has {len(acts)} entries, but there are "
                    f"{len(self.hidden_layers)} hidden layers"
                )
            hidden = [get_activation(a, f"activation[{i}]") for i, a in enumerate(acts)]
        if any(a.name == "softmax" for a in hidden):
            raise ValueError("activation='softmax' is only available as output_activation")
        required = self.loss.output_activation
        out = get_activation(output_activation or required or "sigmoid", "output_activation")
        if required is not None and out.name != required:
            raise ValueError(
                f"loss={self.loss.name!r} needs output_activation={required!r}, "
                f"got {out.name!r}"
            )
        if out.name == "softmax" and self.num_outputs == 1:
            raise ValueError(
                "a softmax over num_outputs=1 is always 1 and cannot learn; for two classes "
                "use num_outputs=1 with loss='binary_cross_entropy', or num_outputs=2"
            )
        self.layer_activations: list[Activation] = [*hidden, out]
        self.init = init
        # By default each layer is initialised for its own activation.
        initializers = [get_initializer(init if init is not None else default_init(a.name))
                        for a in self.layer_activations]
        self.optimizer = get_optimizer(optimizer)

        self._backend = get_backend(backend, device, dtype)
        self.seed = seed
        self.bias = bias
        # One host generator draws the weights, then shuffles batches in fit.
        self.rng = np.random.default_rng(seed)
        pairs = list(zip(self.layers[:-1], self.layers[1:], strict=False))
        with self._backend.context():
            self._weights = [self._backend.asarray(initializer(self.rng, i, o))
                             for initializer, (i, o) in zip(initializers, pairs, strict=True)]
            self._biases = [self._backend.asarray(np.zeros(o)) for _, o in pairs] if (
                bias) else []
            self.derivatives = [self.xp.zeros_like(w) for w in self._weights]
            self.bias_derivatives = [self.xp.zeros_like(b) for b in self._biases]
            self.activations = [self.xp.zeros(n, dtype=self.dtype, device=self.device)
                                for n in self.layers]

    # -- backend -------------------------------------------------------------

    @property
    def backend(self) -> str:
        """The backend's name."""
        return self._backend.name

    @property
    def xp(self) -> Any:
        """The Array API namespace the model computes with."""
        return self._backend.xp

    @property
    def device(self) -> Any:
        """The device the model's arrays live on."""
        return self._backend.device

    @property
    def dtype(self) -> Any:
        """The floating dtype of the parameters."""
        return self._backend.dtype

    # -- parameters ----------------------------------------------------------

    @property
    def weights(self) -> list[Any]:
        """Weight matrices, ``(n_in, n_out)`` per layer; assign a list to set them."""
        return self._weights

    @weights.setter
    @_on_device
    def weights(self, values: Sequence[Any]) -> None:
        shapes: list[tuple[int, ...]] = list(zip(self.layers[:-1], self.layers[1:], strict=False))
        self._weights = self._checked_params(values, "weights", shapes)

    @property
    def biases(self) -> list[Any]:
        """Bias vectors, ``(n_out,)`` per layer (empty with ``bias=False``)."""
        return self._biases

    @biases.setter
    @_on_device
    def biases(self, values: Sequence[Any]) -> None:
        shapes: list[tuple[int, ...]] = [(o,) for o in self.layers[1:]] if self.bias else []
        self._biases = self._checked_params(values, "biases", shapes)

    def _checked_params(
        self, values: Sequence[Any], name: str, shapes: list[tuple[int, ...]]
    ) -> list[Any]:
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(
                f"{name} must be a list of {len(shapes)} arrays, got {type(values).__name__}"
            )
        values = list(values)
        if len(values) != len(shapes):
            raise ValueError(f"{name} must be a list of {len(shapes)} arrays, got {len(values)}")
        # Same checks as data (kind, device, backend, finiteness), naming the entry.
        return [data.as_parameter(self._backend, v, shape, f"{name}[{i}]")
                for i, (v, shape) in enumerate(zip(values, shapes, strict=True))]

    def parameters(self) -> list[Any]:
        """Weights then biases, in one list (the order optimizers see)."""
        return [*self._weights, *self._biases]

    def _set_parameters(self, params: list[Any]) -> None:
        n = len(self._weights)
        self._weights, self._biases = params[:n], params[n:]

    # -- the math ------------------------------------------------------------

    def _forward(self, x: Any, store: bool) -> tuple[Any, Any]:
        """Outputs and output pre-activations (logits) for the batch ``x``.

        With ``store``, keeps the layers' activations for backpropagation.
        """
        xp = self._backend.xp
        biases, activations = self._biases, self.layer_activations
        a = z = x
        acts = [a]
        for i, w in enumerate(self._weights):
            z = xp.matmul(a, w)
            if biases:
                z += biases[i]
            a = activations[i].forward(xp, z)
            acts.append(a)
        if store:
            self.activations = acts
        return a, z

    def _backward(
        self, delta: Any, acts: list[Any], descend: bool = False
    ) -> tuple[list[Any], list[Any]]:
        """Parameter gradients, given ``delta``: the gradient at the output's pre-activation.

        With ``descend``, ``delta`` already carries the step size: each layer's
        scaled gradient is subtracted from its parameters as soon as it is
        made, and the returned lists hold None.
        """
        xp = self._backend.xp
        if descend:  # new lists, as the optimizers' path makes: a list held by a user stays
            self._weights, self._biases = list(self._weights), list(self._biases)
        weights, biases = self._weights, self._biases
        n = len(weights)
        grad_w: list[Any] = [None] * n
        grad_b: list[Any] = [None] * n if biases else []
        for i in range(n - 1, -1, -1):
            # Through the layer's weights before a descent changes them.
            # .T (2-D arrays) is in the standard and is a view everywhere: no copy.
            back = xp.matmul(delta, weights[i].T) if i > 0 else None
            if descend:
                self._descend(i, acts[i], delta)
            else:
                grad_w[i] = xp.matmul(acts[i].T, delta)
                if biases:
                    grad_b[i] = xp.sum(delta, axis=0)
            if back is not None:
                delta = self.layer_activations[i - 1].backward(xp, acts[i], back)
        return grad_w, grad_b

    def _descend(self, i: int, a: Any, delta: Any) -> None:
        """``W -= a.T @ delta`` and ``b -= sum(delta)`` for layer ``i``."""
        xp = self._backend.xp
        w = self._weights[i]
        n_in, n_out = w.shape
        rows = n_in
        if n_in * n_out > DESCENT_BLOCK_BYTES // 8:  # most layers are far smaller
            itemsize = 8 if w.dtype == xp.float64 else 4
            rows = max(1, DESCENT_BLOCK_BYTES // (itemsize * n_out))
        if rows < n_in and self._backend.on_cpu and writeable(w):
            for lo in range(0, n_in, rows):
                hi = min(lo + rows, n_in)
                w[lo:hi, :] -= xp.matmul(a[:, lo:hi].T, delta)
        else:  # whole; on an immutable backend (JAX) ``-=`` rebinds
            w -= xp.matmul(a.T, delta)
            self._weights[i] = w
        if self._biases:
            b = self._biases[i]
            b -= xp.sum(delta, axis=0)
            self._biases[i] = b

    def _step(self, x: Any, y: Any, loss: Loss, optimizer: Optimizer) -> Any:
        """One optimisation step on a batch; returns its per-sample losses (on the device)."""
        xp = self._backend.xp
        out, logits = self._forward(x, store=True)
        scale = optimizer.delta_scale()
        value, delta = loss.value_and_delta(
            xp, y, out, logits, self.layer_activations[-1], 1.0 if scale is None else scale)
        if scale is not None:  # plain SGD: each gradient is applied as it is made
            self._backward(delta, self.activations, descend=True)
            optimizer.record_step()
            return value
        grad_w, grad_b = self._backward(delta, self.activations)
        params = self.parameters()
        optimizer.step(xp, params, grad_w + grad_b)
        self._set_parameters(params)
        return value

    # -- the tutorial's surface ----------------------------------------------

    @_on_device
    def forward_propagate(self, inputs: Any) -> Any:
        """Outputs for one sample (1-D) or a batch (2-D); stores ``activations``."""
        x = data.as_features(self._backend, inputs, self.num_inputs, "inputs", allow_1d=True)
        return self._forward(x, store=True)[0]

    @_on_device
    def back_propagate(self, error: Any) -> None:
        """Backpropagate ``error = target - output`` from the last forward pass.

        Stores in ``derivatives`` (and ``bias_derivatives``) the tutorial's
        descent direction, the negative gradient of half the squared error,
        averaged over the batch.
        """
        xp = self.xp
        out = self.activations[-1]
        err = data.as_features(self._backend, error, self.num_outputs, "error", allow_1d=True)
        if tuple(err.shape) != tuple(out.shape):
            raise ValueError(
                f"error must have the shape of the last output {tuple(out.shape)}, "
                f"got {tuple(err.shape)}"
            )
        acts = [a if a.ndim == 2 else xp.reshape(a, (1, -1)) for a in self.activations]
        err = xp.reshape(err, tuple(acts[-1].shape)) / float(acts[-1].shape[0])
        delta = self.layer_activations[-1].backward(xp, acts[-1], err)
        self.derivatives, self.bias_derivatives = self._backward(delta, acts)

    @_on_device
    def gradient_descent(self, learningRate: float = 1) -> None:  # the tutorial's name
        """Step the parameters along ``derivatives``, as the tutorial does."""
        if isinstance(learningRate, bool) or not isinstance(learningRate, (int, float)) or (
                not math.isfinite(learningRate)):
            raise ValueError(f"learningRate must be a finite number, got {learningRate!r}")
        lr = float(learningRate)
        params = self.parameters()
        steps = [*self.derivatives, *self.bias_derivatives]
        for i, (p, d) in enumerate(zip(params, steps, strict=True)):
            p += d * lr
            params[i] = p
        self._set_parameters(params)

    @_on_device
    def train(
        self,
        inputs: Any,
        targets: Any,
        epochs: int,
        learning_rate: float,
        *,
        batch_size: int = 1,
        shuffle: bool = False,
        verbose: bool = True,
    ) -> list[float]:
        """Train as the tutorial does: SGD on half the squared error.

        Parameters
        ----------
        inputs, targets : array-like
            ``(n_samples, num_inputs)`` and ``(n_samples, num_outputs)`` (or 1-D
            for one output).
        epochs : int
            Passes over the data.
        learning_rate : float
            The step size.
        batch_size : int
            Samples per update (1, the tutorial's, by default); each update
            uses the mean of the per-sample derivatives.
        shuffle : bool
            Shuffle the samples each epoch (with the model's generator).
        verbose : bool
            Print the error each epoch, as the tutorial does.

        Returns
        -------
        list of float
            The mean squared error of each epoch, as the tutorial prints it.
        """
        from .training import fit

        history = fit(
            self, inputs, targets, epochs=epochs, batch_size=batch_size,
            optimizer=SGD(learning_rate), shuffle=shuffle, verbose=0,
            loss=TutorialError(), tutorial_log=verbose, names=("inputs", "targets"),
        )
        return history.history["loss"]

    # -- scikit-learn / Keras surface -----------------------------------------

    @_on_device
    def fit(self, X: Any, y: Any, **kwargs: Any) -> History:
        """Train with mini-batches; see :func:`agnostic_mlp.training.fit`."""
        from .training import fit

        return fit(self, X, y, **kwargs)

    @_on_device
    def predict(self, X: Any, *, batch_size: int | None = None) -> Any:
        """Network outputs for ``X``, an array of the model's backend on its device.

        One sample (1-D) gives a 1-D output; probabilities for classifiers.
        """
        if batch_size is not None:
            data.check_int(batch_size, "batch_size", 1)
        x = data.as_features(self._backend, X, self.num_inputs, "X", allow_1d=True)
        if batch_size is None or x.ndim == 1 or x.shape[0] <= batch_size:
            return self._forward(x, store=False)[0]
        n = x.shape[0]
        chunks = [self._forward(x[i:min(i + batch_size, n), ...], store=False)[0]
                  for i in range(0, x.shape[0], batch_size)]
        return self.xp.concat(chunks, axis=0)

    @_on_device
    def predict_proba(self, X: Any) -> Any:
        """Class probabilities: ``(n_samples, n_classes)``; two columns for one binary output."""
        self._require_classifier("predict_proba")
        return self.loss.probabilities(self.xp, self.predict(X))

    @_on_device
    def predict_classes(self, X: Any) -> Any:
        """Predicted class labels (integers), or 0/1 per output for binary targets."""
        self._require_classifier("predict_classes")
        return self.loss.labels(self.xp, self.predict(X), self._backend.index_dtype)

    @_on_device
    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """The loss (and accuracy for classifiers) on ``(X, y)``, as Python floats."""
        from .training import evaluate

        x, t = self._checked_pair(X, y)
        metrics = evaluate(self, x, t, self.loss)
        values = to_numpy(self.xp.stack(list(metrics.values())))  # one transfer
        return {k: float(v) for k, v in zip(metrics, values, strict=True)}

    @_on_device
    def score(self, X: Any, y: Any) -> float:
        """Accuracy for classifiers (a sample counts when all its labels are right), else R².

        R² is averaged over outputs, as scikit-learn's ``r2_score``: an output
        with constant targets scores 1.0 if predicted exactly, else 0.0.
        """
        xp = self.xp
        x, t = self._checked_pair(X, y)
        p = self._forward(x, store=False)[0]
        if self.loss.classifier:
            return float(self.loss.correct(xp, t, p)) / int(t.shape[0])
        ss = to_numpy(xp.stack([xp.sum((t - p) ** 2, axis=0),
                                xp.sum((t - xp.mean(t, axis=0)) ** 2, axis=0)]))
        ss_res, ss_tot = ss.astype(np.float64)
        constant = ss_tot == 0
        r2 = np.where(constant, np.where(ss_res == 0, 1.0, 0.0),
                      1.0 - ss_res / np.where(constant, 1.0, ss_tot))
        return float(np.mean(r2))

    def _checked_pair(self, X: Any, y: Any) -> tuple[Any, Any]:
        x = data.as_features(self._backend, X, self.num_inputs, "X")
        t = data.as_targets(self._backend, y, x.shape[0], self.num_outputs,
                            self.loss.target_kind)
        return x, t

    def _require_classifier(self, method: str) -> None:
        if not self.loss.classifier:
            raise TypeError(
                f"{method} needs a classifier (a cross-entropy loss); this model's loss is "
                f"{self.loss.name!r}"
            )

    def __repr__(self) -> str:
        acts = [a.name for a in self.layer_activations]
        return (
            f"MLP({self.num_inputs}, {self.hidden_layers}, {self.num_outputs}, "
            f"backend={self.backend!r}, dtype={self._backend.dtype_name!r}, "
            f"activations={acts}, loss={self.loss.name!r}, bias={self.bias})"
        )

    # -- persistence -----------------------------------------------------------

    @_on_device
    def save(self, path: str | PathLike[str]) -> None:
        """Save the model to ``path`` (safetensors, written atomically).

        See :func:`agnostic_mlp.persistence.save`.
        """
        from . import persistence

        persistence.save(self, path)

    @classmethod
    def load(
        cls, path: str | PathLike[str], *, backend: Any = "numpy", device: Any = None,
        dtype: Any = None,
    ) -> MLP:
        """A model saved by :meth:`save`, on any backend and device (``dtype``: the saved one).

        Raises :class:`~agnostic_mlp.ModelFileError` for any malformed, truncated or
        tampered file; see :func:`agnostic_mlp.persistence.load`.
        """
        from . import persistence

        return persistence.load(path, backend=backend, device=device, dtype=dtype)

    @_on_device
    def to(self, backend: Any, device: Any = None) -> MLP:
        """The same model on another backend or device, as a new MLP."""
        from . import persistence

        return persistence.to(self, backend, device)
