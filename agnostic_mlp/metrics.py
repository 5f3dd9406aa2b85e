"""Scores made of parts: accuracy and R², over any pieces of the data.

Each piece of data (a window, a piece of one, a process's shard) gives its
parts on the device (:meth:`Score.parts`); the host merges every piece's
parts into the score (:meth:`Score.value`), in float64. So a score over
streamed data, or across processes, is the score over all of it, with one
transfer of the parts, and nothing of a piece's size stays on the device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ._typing import Array, Namespace

__all__ = ["R2", "Accuracy", "Score"]


class Score:
    """A score of outputs against targets, with optional per-sample weights."""

    def parts(self, xp: Namespace, out: Array, y: Array, weights: Array | None) -> Array:
        """What one piece adds to the score: a 1-D device array."""
        raise NotImplementedError

    def value(self, parts: Sequence[np.ndarray]) -> float:
        """The score of every piece's :meth:`parts`, brought to the host."""
        raise NotImplementedError


class Accuracy(Score):
    """The (weighted) fraction of samples whose labels are all right; NaN if an output is
    not finite (labels of NaN outputs are arbitrary: each backend's argmax of NaN differs).

    Parameters
    ----------
    hits : callable
        ``hits(xp, y, out)``: whether each sample's predicted labels all match ``y``.
    """

    def __init__(self, hits: Callable[[Namespace, Array, Array], Array]) -> None:
        self.hits = hits

    def parts(self, xp: Namespace, out: Array, y: Array, weights: Array | None) -> Array:
        bad = 1.0 - xp.astype(xp.all(xp.isfinite(out)), out.dtype)
        hits = xp.astype(self.hits(xp, y, out), out.dtype)
        if weights is None:  # counts: exact in float32 up to 2**24 samples a piece
            return xp.stack([xp.sum(hits), xp.sum(xp.ones_like(hits)), bad])
        return xp.stack([xp.sum(weights * hits), xp.sum(weights), bad])

    def value(self, parts: Sequence[np.ndarray]) -> float:
        hits, total, bad = np.sum(np.asarray(parts, dtype=np.float64), axis=0)
        return float("nan") if bad else float(hits / total)


class R2(Score):
    """scikit-learn's ``r2_score``, averaged over outputs: an output with constant targets
    scores 1 if predicted exactly, else 0; NaN if an output is not finite.

    Each piece gives its targets' weight, weighted means and squared deviations
    from them, and its squared errors; pieces merge as Chan et al. merge
    variances (stable, one pass).
    """

    def parts(self, xp: Namespace, out: Array, y: Array, weights: Array | None) -> Array:
        bad = 1.0 - xp.astype(xp.all(xp.isfinite(out)), out.dtype)
        w = xp.ones_like(y[:, :1]) if weights is None else weights[:, None]
        total = xp.sum(w)
        mean = xp.sum(w * y, axis=0) / total
        deviations = xp.sum(w * (y - mean) ** 2, axis=0)
        errors = xp.sum(w * (y - out) ** 2, axis=0)
        return xp.concat([xp.stack([bad, total]), mean, deviations, errors])

    def value(self, parts: Sequence[np.ndarray]) -> float:
        k = (int(parts[0].shape[0]) - 2) // 3
        bad = total = 0.0
        mean = ss_tot = ss_res = np.zeros(k)
        for p in (np.asarray(q, dtype=np.float64) for q in parts):
            w, m, deviations = float(p[1]), p[2:2 + k], p[2 + k:2 + 2 * k]
            delta = m - mean
            share = w / (total + w)
            mean = mean + delta * share
            ss_tot = ss_tot + deviations + delta**2 * (total * share)
            ss_res = ss_res + p[2 + 2 * k:]
            bad += float(p[0])
            total += w
        if bad:
            return float("nan")
        scores = np.ones(k)
        valid = (ss_tot != 0) & (ss_res != 0)
        scores[valid] = 1.0 - ss_res[valid] / ss_tot[valid]
        scores[(ss_res != 0) & (ss_tot == 0)] = 0.0
        return float(np.mean(scores))
