"""Timing: size each measurement, warm up, then time contenders round-robin.

Absolute times on a shared machine drift (by up to 2x over a minute here), but
contenders timed back to back within one repeat see the same machine, so the
ratios within a repeat are what the report trusts. Each repeat times every
contender once, starting one further along the list each time so that no
contender always runs first or right after the same neighbour.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Plan", "plan_steps", "round_robin", "timed"]


@dataclass(frozen=True)
class Plan:
    """How many steps one measurement of a contender runs.

    Attributes
    ----------
    steps : int
        SGD steps per measurement.
    epoch_steps : int
        Steps in a whole epoch.
    samples : int
        Samples the measurement trains on.
    warmup_s : float
        Seconds spent probing and warming up.
    """

    steps: int
    epoch_steps: int
    samples: int
    warmup_s: float

    @property
    def full_epoch(self) -> bool:
        """Whether a measurement is a whole epoch."""
        return self.steps >= self.epoch_steps


def timed(run: Callable[[int], None], steps: int, collect: bool = True) -> float:
    """Seconds ``run(steps)`` takes, after a garbage collection (unless not ``collect``).

    Call :func:`gc.freeze` once after the imports, or each collection walks
    every object of torch, JAX and scikit-learn (a few hundred milliseconds).
    """
    if collect:
        gc.collect()
    start = time.perf_counter()
    run(steps)
    return time.perf_counter() - start


def plan_steps(run: Callable[[int], None], epoch_steps: int, batch_size: int, n_samples: int,
               budget_s: float, min_steps: int = 1, probe_s: float = 0.2) -> Plan:
    """Warm ``run`` up and choose its steps per measurement.

    A measurement is a whole epoch unless that would take longer than
    ``budget_s``; then it is as many steps as fit in the budget, but at least
    ``min_steps``. The first call (one step) warms up caches and compilers;
    probes of growing length (each run twice, the faster kept) then estimate
    the time per step; a last call at the chosen length warms up its shapes
    (a partial last batch is one).

    Returns
    -------
    Plan
    """
    start = time.perf_counter()
    run(1)
    k = steps = 1
    while epoch_steps > 1:
        # Twice, keeping the faster: new shapes may compile on the first call
        # (JAX), and another process may steal either.
        t = min(timed(run, k, collect=False), timed(run, k, collect=False))
        if t >= probe_s or k >= epoch_steps:
            steps = min(epoch_steps, max(min_steps, round(budget_s * k / max(t, 1e-9))))
            break
        k = min(epoch_steps, k * 4)
    if steps != k:
        run(steps)
    samples = min(n_samples, steps * batch_size)
    return Plan(steps, epoch_steps, samples, time.perf_counter() - start)


def round_robin(runs: Sequence[tuple[Callable[[int], None], int]], repeats: int,
                progress: Callable[[int, int, float], None] | None = None
                ) -> list[list[float]]:
    """Time each ``(run, steps)`` once per repeat, rotating the starting contender.

    Returns
    -------
    list of list of float
        ``times[c][r]``: seconds of contender ``c`` in repeat ``r``.
    """
    n = len(runs)
    times: list[list[float]] = [[0.0] * repeats for _ in range(n)]
    for r in range(repeats):
        for j in range(n):
            c = (r + j) % n
            run, steps = runs[c]
            times[c][r] = timed(run, steps)
            if progress is not None:
                progress(r, c, times[c][r])
    return times
