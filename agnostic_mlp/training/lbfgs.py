"""Full-batch L-BFGS on the engine: scipy's L-BFGS-B over the flattened parameters.

This is scikit-learn's ``solver="lbfgs"`` (``BaseMultilayerPerceptron._fit_lbfgs``)
with the math on the model's backend and device::

    result = minimize_lbfgs(runtime, objective, params, batches, max_iter=200)

scipy runs on the host and sees one flat float64 vector: the weights, each
raveled in row-major order, then the biases (the order of
:meth:`~agnostic_mlp.engine.Params.flat`, and of scikit-learn's packing). Each
evaluation copies that vector to the device once, computes the loss
(:meth:`~agnostic_mlp.Loss.value`) and the gradient there (the engine's
:func:`~agnostic_mlp.engine.forward_all` and
:func:`~agnostic_mlp.engine.gradients`), summed over the pieces ``batches()``
yields (so the data may be larger than one batch, or streamed), and brings
back one vector, the loss then the gradient. A float32 model computes in
float32; scipy gets float64.

L-BFGS amplifies rounding: one line-search decision that flips at the last
bit sends the path elsewhere. So the gradient is computed in scikit-learn's
order of operations, and the loss is whatever the loss's ``value`` computes:
to give scikit-learn's models bit for bit, a loss's ``value`` must reduce in
its order (each output's mean over the samples, then their sum).

The objective is scikit-learn's: the (weighted) mean over every sample of the
loss, plus ``0.5 * alpha * sum(W**2) / total``, ``alpha`` being
``objective.l2`` and ``total`` the number of samples (or the sum of their
weights); biases are not penalised.

Memory: besides the data's pieces, the device holds the parameters, their
gradient and one piece's activations at a time; scipy holds on the host
``2 * m`` vectors of the parameters' size for its curvature pairs (``m = 10``,
its default), and a few more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._typing import Array
from ..backends import Backend, to_numpy
from ..constraints import Integer, Real, check
from ..engine import Objective, Params, forward_all, gradients
from .loop import Dataset
from .streamed import StreamedDataset, pieces

__all__ = ["Batches", "LBFGSResult", "loss_and_gradient", "minimize_lbfgs", "whole"]

Batches = Callable[[], Iterable[tuple[Array, Array, "Array | None"]]]
"""``batches() -> iterable of (x, y, weights or None)``: the whole data set, in pieces of
device arrays; it is called once per evaluation and must yield the same data each time."""


@dataclass(frozen=True)
class LBFGSResult:
    """What :func:`minimize_lbfgs` found.

    Attributes
    ----------
    params : Params
        The final parameters, on the device (scipy's ``x``).
    loss : float
        The objective there (scipy's ``fun``; scikit-learn's ``loss_``).
    n_iter : int
        Iterations, at most ``max_iter`` (scikit-learn's ``n_iter_``).
    n_fun : int
        Evaluations of the loss and gradient (scipy's ``nfev``).
    status : int
        scipy's status: 0 converged, 1 a limit (``max_iter`` or ``max_fun``)
        was reached, 2 stopped otherwise (e.g. no line search step).
    message : str
        scipy's message.
    iteration_losses : tuple of float
        The objective after each iteration. scikit-learn records nothing for
        L-BFGS (its ``loss_curve_`` stays empty); this costs no evaluation.
    """

    params: Params
    loss: float
    n_iter: int
    n_fun: int
    status: int
    message: str
    iteration_losses: tuple[float, ...]

    @property
    def converged(self) -> bool:
        """Whether scipy reports convergence (status 0)."""
        return self.status == 0


def whole(runtime: Backend, data: Dataset | StreamedDataset, params: Params) -> Batches:
    """``batches`` for the whole of ``data``: data in memory as one piece (the
    rounding of one batch, scikit-learn's), data on disk a window at a time, each
    window in pieces whose activations take about a window's bytes."""
    if isinstance(data, Dataset):
        one = (data.x, data.y, data.weights)
        return lambda: iter([one])

    def windows() -> Iterator[tuple[Array, Array, Array | None]]:
        for window in data.windows(runtime):
            for x, t in pieces(params, *window):
                assert t is not None
                yield x, t, None
    return windows


def _scipy_prints() -> bool:
    """Whether this scipy honours ``iprint`` (it was dropped in 1.15, deprecated in 1.16)."""
    import scipy
    major, minor = (int(part) for part in scipy.__version__.split(".")[:2])
    return (major, minor) < (1, 15)


def _unflatten(runtime: Backend, template: Params, theta: np.ndarray) -> Params:
    """``theta`` (host) as parameters of ``template``'s shapes, on the device: one copy."""
    xp = runtime.xp
    flat = runtime.asarray(theta)
    parts, start = [], 0
    for p in template.flat():
        size = int(np.prod(p.shape))
        parts.append(xp.reshape(flat[start:start + size], tuple(p.shape)))
        start += size
    return template.like(parts)


def _loss_and_flat_gradient(runtime: Backend, objective: Objective, params: Params,
                            batches: Batches) -> Array:
    """One device vector: the objective, then its gradient, flattened.

    Each piece's loss is the loss's :meth:`~agnostic_mlp.Loss.value` (its mean)
    and its output delta the gradient of its *summed* loss (the mean's, scaled
    by the piece's size: exact, ``n / n`` being 1), times the sample weights.
    The pieces' gradients are added up, then ``alpha * W`` is added and the sum
    divided by the total once, in scikit-learn's order of operations
    (``(a.T @ delta + alpha * W) / total``); one piece's mean loss is used as it
    is. So on one piece both are scikit-learn's to the last bit, where the loss's
    ``value`` and the activations round as scikit-learn's do.
    """
    xp = runtime.xp
    acts = objective.activations
    means: list[tuple[Array, Any]] = []
    sums_w: list[Array] = []
    sums_b: list[Array] = []
    total: Any = 0
    for x, y, w in batches():
        n = x.shape[0]
        outs, z = forward_all(xp, acts, params, x)
        delta = objective.loss.delta(xp, y, outs[-1], z, acts[-1], float(n))
        if w is not None:
            delta = delta * w[:, None]
        g = gradients(xp, acts, params, outs, delta)
        t = n if w is None else xp.sum(w)
        means.append((objective.loss.value(xp, y, outs[-1], z, w), t))
        if len(means) == 1:
            sums_w, sums_b = list(g.weights), list(g.biases)
        else:
            sums_w = [a + b for a, b in zip(sums_w, g.weights, strict=True)]
            sums_b = [a + b for a, b in zip(sums_b, g.biases, strict=True)]
        total = total + t
    if not means:
        raise ValueError("batches() yielded no data")
    loss = means[0][0] if len(means) == 1 else sum(m * t for m, t in means) / total
    if objective.l2:
        alpha = objective.l2
        sums_w = [g + alpha * w for g, w in zip(sums_w, params.weights, strict=True)]
        penalty = sum(xp.vecdot(xp.reshape(w, (-1,)), xp.reshape(w, (-1,)))
                      for w in params.weights)
        loss = loss + (0.5 * alpha) * penalty / total
    grads = [g / total for g in (*sums_w, *sums_b)]
    return xp.concat([xp.reshape(loss, (1,)), *(xp.reshape(g, (-1,)) for g in grads)])


def loss_and_gradient(runtime: Backend, objective: Objective, template: Params,
                      theta: np.ndarray, batches: Batches) -> tuple[float, np.ndarray]:
    """The objective and its gradient at the flat host vector ``theta``: what scipy sees.

    Parameters
    ----------
    runtime : Backend
    objective : Objective
    template : Params
        Parameters of the model's shapes (their values are not used).
    theta : ndarray
        The weights, each raveled in row-major order, then the biases.
    batches : callable
        As :func:`minimize_lbfgs` takes it.

    Returns
    -------
    loss : float
    gradient : ndarray
        Float64, of ``theta``'s size; one transfer from the device.
    """
    with runtime.context():
        vector = _loss_and_flat_gradient(runtime, objective,
                                         _unflatten(runtime, template, theta), batches)
        host = np.asarray(to_numpy(vector), dtype=np.float64)  # the one transfer
    return float(host[0]), host[1:]


def minimize_lbfgs(
    runtime: Backend, objective: Objective, params: Params, batches: Batches, *,
    max_iter: int = 200, max_fun: int = 15000, tol: float = 1e-4, iprint: int = -1,
) -> LBFGSResult:
    """Minimise ``objective`` over the data ``batches()`` gives, from ``params``, with
    scipy's L-BFGS-B, as scikit-learn's MLPs do for ``solver="lbfgs"``.

    Parameters
    ----------
    runtime : Backend
        The backend, device and dtype the parameters and the data's pieces are on.
    objective : Objective
        The activations, the loss (its per-sample sums are averaged over all the
        samples) and ``l2``, scikit-learn's ``alpha``.
    params : Params
        The starting parameters, on the device; left unchanged.
    batches : callable
        ``batches() -> iterable of (x, y, weights or None)``, device arrays: the
        whole data set in one piece or several; called once per evaluation.
        Pieces either all have weights or none do.
    max_iter, max_fun : int
        scipy's ``maxiter`` and ``maxfun`` (scikit-learn's ``max_iter``, ``max_fun``).
    tol : float
        scipy's ``gtol`` (scikit-learn's ``tol``).
    iprint : int
        scipy's ``iprint`` (scikit-learn passes 1 when ``verbose``, else -1);
        passed only to a scipy that honours it (before 1.15), as scikit-learn does.

    Returns
    -------
    LBFGSResult
        The parameters on the device, the loss, iterations, evaluations and scipy's
        verdict. It does not warn; a caller wanting scikit-learn's
        ``ConvergenceWarning`` raises it where ``status != 0``.

    Raises
    ------
    InvalidArgumentError
        For a bad ``max_iter``, ``max_fun``, ``tol`` or ``iprint``.
    ValueError
        If ``batches()`` yields nothing.
    """
    max_iter = check(max_iter, "max_iter", Integer(1))
    max_fun = check(max_fun, "max_fun", Integer(1))
    tol = check(tol, "tol", Real(0.0))
    iprint = check(iprint, "iprint", Integer())
    options: dict[str, Any] = {"maxiter": max_iter, "maxfun": max_fun, "gtol": tol}
    if _scipy_prints():
        options["iprint"] = iprint
    losses: list[float] = []

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return loss_and_gradient(runtime, objective, params, theta, batches)

    # scipy is imported here: ``import agnostic_mlp`` imports neither it nor scikit-learn.
    import scipy.optimize

    def record(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        losses.append(float(intermediate_result.fun))

    with runtime.context():
        start = np.concatenate([np.asarray(to_numpy(p), dtype=np.float64).ravel()
                                for p in params.flat()])
    result = scipy.optimize.minimize(fun, start, method="L-BFGS-B", jac=True,
                                     options=options, callback=record)
    with runtime.context():
        final = _unflatten(runtime, params, result.x)
    return LBFGSResult(params=final, loss=float(result.fun), n_iter=min(int(result.nit), max_iter),
                       n_fun=int(result.nfev), status=int(result.status),
                       message=str(result.message), iteration_losses=tuple(losses))
