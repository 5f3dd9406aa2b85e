"""Learning curves in one call: :func:`plot_history`.

matplotlib is optional: imported on the first plot, with an install hint if missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidArgumentError

__all__ = ["plot_history"]

_INSTALL = ("plot_history needs the 'matplotlib' package, which is not installed: "
            "pip install matplotlib (agnostic_mlp's extra [plot])")


def plot_history(source: Any, ax: Any = None, *, title: str | None = None,
                 log: bool | None = None) -> Any:
    """Plot the curves of a training run per epoch; return the matplotlib ``Axes``.

    Parameters
    ----------
    source : History, estimator, mapping or sequence
        What :meth:`~agnostic_mlp.Network.fit` returned (its losses, and its
        accuracies on a second axis on the right; the best epoch of early
        stopping as a dashed line), a fitted :class:`~agnostic_mlp.MLPClassifier`
        or :class:`~agnostic_mlp.MLPRegressor` (``loss_curve_``, and
        ``validation_scores_`` on the right when early stopping kept them), a
        mapping of names to per-epoch values, or one sequence of losses.
    ax : matplotlib Axes, optional
        Where to draw; a new figure's by default.
    title : str, optional
        The axes' title.
    log : bool, optional
        A logarithmic loss axis; by default when every loss is positive.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ImportError
        If matplotlib is not installed (the message says how to install it).
    InvalidArgumentError
        If ``source`` holds no curve, or curves of something other than numbers.
    """
    curves, best = _curves(source)
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_INSTALL, name="matplotlib") from exc
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    losses = {k: v for k, v in curves.items() if not _is_score(k)}
    scores = {k: v for k, v in curves.items() if _is_score(k)}
    for name, values in losses.items():
        ax.plot(range(1, len(values) + 1), values, label=name)
    ax.set_xlabel("epoch")
    if losses:
        ax.set_ylabel("loss")
        positive = all(v > 0 for values in losses.values() for v in values)
        if log if log is not None else positive:
            ax.set_yscale("log")
    lines, labels = ax.get_legend_handles_labels()
    if scores:
        right = ax.twinx() if losses else ax
        cycle = len(losses)
        for i, (name, values) in enumerate(scores.items()):
            right.plot(range(1, len(values) + 1), values, label=name, linestyle=":",
                       color=f"C{cycle + i}")
        right.set_ylabel("score")
        if right is not ax:
            more, more_labels = right.get_legend_handles_labels()
            lines, labels = lines + more, labels + more_labels
    if best is not None:
        line = ax.axvline(best + 1, color="grey", linestyle="--")
        lines, labels = [*lines, line], [*labels, f"best epoch ({best + 1})"]
    ax.legend(lines, labels)
    ax.grid(alpha=0.3)
    if title is not None:
        ax.set_title(title)
    return ax


def _is_score(name: str) -> bool:
    return "accuracy" in name or "score" in name


def _curves(source: Any) -> tuple[dict[str, list[float]], int | None]:
    """The named per-epoch curves of ``source``, and its best epoch (0-based) if any."""
    best: int | None = None
    if hasattr(source, "loss_curve_"):  # a fitted estimator of scikit-learn's kind
        curves: dict[str, Any] = {"training loss": source.loss_curve_}
        scores = getattr(source, "validation_scores_", None)
        if scores is not None:
            curves["validation score"] = scores
            best = int(max(range(len(scores)), key=lambda i: scores[i])) if scores else None
    elif hasattr(source, "history") and isinstance(source.history, Mapping):  # a History
        curves = dict(source.history)
        best = getattr(source, "best_epoch", None)
    elif isinstance(source, Mapping):
        curves = dict(source)
    elif isinstance(source, Sequence) and not isinstance(source, (str, bytes)):
        curves = {"loss": source}
    else:
        raise InvalidArgumentError(
            "plot_history takes a History, a fitted MLPClassifier or MLPRegressor, a mapping "
            f"of names to per-epoch values, or a sequence of losses; got {type(source).__name__}")
    out: dict[str, list[float]] = {}
    for name, values in curves.items():
        try:
            out[str(name)] = [float(v) for v in values]
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"plot_history: the curve {name!r} must be a sequence of numbers ({exc})"
            ) from exc
    if not any(out.values()):
        raise InvalidArgumentError("plot_history: there is no epoch to plot (every curve is "
                                   "empty); fit first")
    return out, best
