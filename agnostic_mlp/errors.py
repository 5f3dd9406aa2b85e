"""The exceptions the library raises beyond the built-in ones."""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "DivergenceError",
    "InvalidArgumentError",
    "ModelFileError",
    "ProcessMismatchError",
]


class InvalidArgumentError(ValueError, TypeError):
    """An argument has the wrong type or value; the message names it.

    It is both a ValueError and a TypeError, as scikit-learn's
    ``InvalidParameterError``, so callers may catch either.
    """


class BackendUnavailableError(RuntimeError):
    """A known backend cannot run here: its package is missing, or it has no GPU.

    Also raised where training across processes needs mpi4py and it is missing.
    """


class ModelFileError(ValueError):
    """A model or checkpoint file is malformed, truncated, tampered with or unsafe."""


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or weights; the model keeps its last finite weights.

    ``epoch`` and ``batch`` (0-based) say where.
    """

    def __init__(self, message: str, *, epoch: int, batch: int) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch


class ProcessMismatchError(InvalidArgumentError):
    """Processes that train together do not run the same fit; the message names what differs.

    Every process raises it together, at the start of ``fit``, before any step.
    """


class NonFiniteError(ValueError):
    """scikit-learn's error when training makes the weights NaN or infinite.

    A ValueError, as scikit-learn's estimators raise it. Across processes every
    process raises it at the same epoch.
    """
