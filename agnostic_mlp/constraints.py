"""Argument constraints, declared once and checked by one function.

Every public argument of the library is checked with :func:`check` against
constraints from this module, as scikit-learn's ``_parameter_constraints``:
the same words for the same rules everywhere, and one error type,
:class:`~agnostic_mlp.errors.InvalidArgumentError` (a ValueError and a
TypeError), whose message names the argument and what it accepts::

    check(momentum, "momentum", Real(0, 1, high_open=True))
    check(seed, "seed", NONE, Integer(0, MAX_SEED))
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from .errors import InvalidArgumentError

__all__ = [
    "ANY",
    "BOOLEAN",
    "CALLABLE",
    "MAX_SEED",
    "NONE",
    "Constraint",
    "InstanceOf",
    "Integer",
    "Options",
    "Real",
    "check",
    "check_sequence",
    "short",
]

#: The largest seed: what ``numpy.random.default_rng`` and a model file both accept.
MAX_SEED = 2**63 - 1


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters for a message."""
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Constraint:
    """One rule a value may satisfy; :func:`check` tries several in turn."""

    description = ""

    def convert(self, value: Any) -> Any:
        """The value, normalised (an ``int``, a ``float``, ...); raise ValueError if refused."""
        raise NotImplementedError


@dataclass(frozen=True)
class Integer(Constraint):
    """A whole number (not a bool, not a float) in ``[low, high]``."""

    low: int | None = None
    high: int | None = None

    @property
    def description(self) -> str:  # type: ignore[override]
        return "an int" + _bounds(self.low, self.high, False, False)

    def convert(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError
        value = int(value)
        if (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high):
            raise ValueError
        return value


@dataclass(frozen=True)
class Real(Constraint):
    """A finite real number (an int or a float, not a bool) within bounds."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def description(self) -> str:  # type: ignore[override]
        return "a finite number" + _bounds(self.low, self.high, self.low_open, self.high_open)

    def convert(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError
        try:
            value = float(value)
        except (OverflowError, ValueError, TypeError):  # 10**400, odd Real subclasses
            raise ValueError from None
        if not math.isfinite(value):
            raise ValueError
        low, high = self.low, self.high
        if low is not None and (value < low or (self.low_open and value == low)):
            raise ValueError
        if high is not None and (value > high or (self.high_open and value == high)):
            raise ValueError
        return value


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of values (compared by type and value: ``1`` is not ``True``)."""

    values: tuple[Any, ...]

    @property
    def description(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(repr(v) for v in self.values)

    def convert(self, value: Any) -> Any:
        for option in self.values:
            if type(value) is type(option) and value == option:
                return option
        raise ValueError


@dataclass(frozen=True)
class InstanceOf(Constraint):
    """An instance of ``types``."""

    types: type | tuple[type, ...]
    what: str = ""

    @property
    def description(self) -> str:  # type: ignore[override]
        if self.what:
            return self.what
        types = self.types if isinstance(self.types, tuple) else (self.types,)
        return "a " + " or ".join(t.__name__ for t in types)

    def convert(self, value: Any) -> Any:
        if not isinstance(value, self.types):
            raise ValueError
        return value


class _Boolean(Constraint):
    description = "True or False"

    def convert(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError
        return value


class _None(Constraint):
    description = "None"

    def convert(self, value: Any) -> None:
        if value is not None:
            raise ValueError


class _Callable(Constraint):
    description = "a callable"

    def convert(self, value: Any) -> Callable[..., Any]:
        if not callable(value):
            raise ValueError
        return value


class _Any(Constraint):
    description = "anything"

    def convert(self, value: Any) -> Any:
        return value


ANY: Constraint = _Any()
BOOLEAN: Constraint = _Boolean()
NONE: Constraint = _None()
CALLABLE: Constraint = _Callable()


def check(value: Any, name: str, *allowed: Constraint) -> Any:
    """``value`` normalised by the first constraint in ``allowed`` it satisfies.

    Raises
    ------
    InvalidArgumentError
        If it satisfies none; the message names ``name`` and what it accepts.
    """
    for constraint in allowed:
        try:
            return constraint.convert(value)
        except (ValueError, TypeError):
            continue
    expected = " or ".join(c.description for c in allowed)
    raise InvalidArgumentError(f"{name} must be {expected}, got {short(value)}")


def check_sequence(values: Any, name: str, *allowed: Constraint,
                   length: int | None = None) -> tuple[Any, ...]:
    """A list or tuple of values each satisfying ``allowed``, named ``name[i]``."""
    try:
        if isinstance(values, (str, bytes)) or not isinstance(values, Collection):
            raise TypeError
        items = list(values)
    except TypeError:  # also a 0-d array, which is a Collection that cannot iterate
        raise InvalidArgumentError(f"{name} must be a list, got {short(values)}") from None
    if length is not None and len(items) != length:
        raise InvalidArgumentError(f"{name} must have {length} entries, got {len(items)}")
    return tuple(check(v, f"{name}[{i}]", *allowed) for i, v in enumerate(items))
