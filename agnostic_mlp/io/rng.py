"""A random generator's state as plain JSON, checked field by field when read back.

NumPy's state setters do not range-check what they are given: a crafted
Mersenne Twister ``pos`` or Philox ``buffer_pos`` would later read memory
outside the generator. So every field of every accepted bit generator is
checked here (type, range, length) before NumPy sees it, and the states that
no seeding makes and that break a generator (an even PCG increment, an
all-zero Mersenne Twister key) are refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..constraints import short
from ..errors import InvalidArgumentError

__all__ = ["BIT_GENERATORS", "generator_from_json", "generator_to_json"]


class _Int:
    def __init__(self, high: int, low: int = 0) -> None:
        self.low, self.high = low, high

    def __call__(self, value: Any, what: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not (
                self.low <= value <= self.high):
            raise InvalidArgumentError(
                f"{what} must be an int in [{self.low}, {self.high}], got {short(value)}")
        return value


class _Words:
    def __init__(self, length: int, dtype: type) -> None:
        self.length, self.dtype = length, dtype
        self.word = _Int(int(np.iinfo(dtype).max))

    def __call__(self, value: Any, what: str) -> np.ndarray:
        if not isinstance(value, list) or len(value) != self.length:
            raise InvalidArgumentError(
                f"{what} must be a list of {self.length} ints, got {short(value)}")
        return np.array([self.word(v, f"{what}[{i}]") for i, v in enumerate(value)],
                        dtype=self.dtype)


_U32, _U64, _U128 = _Int(2**32 - 1), _Int(2**64 - 1), _Int(2**128 - 1)
_BIT = _Int(1)
_PCG = {"state": {"state": _U128, "inc": _U128}, "has_uint32": _BIT, "uinteger": _U32}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "PCG64": _PCG,
    "PCG64DXSM": _PCG,
    "MT19937": {"state": {"key": _Words(624, np.uint32), "pos": _Int(624)}},
    "Philox": {"state": {"counter": _Words(4, np.uint64), "key": _Words(2, np.uint64)},
               "buffer": _Words(4, np.uint64), "buffer_pos": _Int(4), "has_uint32": _BIT,
               "uinteger": _U32},
    "SFC64": {"state": {"state": _Words(4, np.uint64)}, "has_uint32": _BIT, "uinteger": _U32},
}
BIT_GENERATORS = tuple(_SCHEMAS)


def generator_to_json(rng: np.random.Generator) -> dict[str, Any]:
    """The generator's state as JSON data (NumPy arrays become lists)."""
    name = type(rng.bit_generator).__name__
    if name not in _SCHEMAS:
        raise InvalidArgumentError(
            f"the model's generator uses {name}; only {list(BIT_GENERATORS)} can be saved")

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, np.ndarray):
            return [int(v) for v in value.tolist()]
        return int(value) if isinstance(value, (int, np.integer)) else value

    return plain(rng.bit_generator.state)


def _checked(value: Any, schema: Any, what: str) -> Any:
    if not isinstance(schema, dict):
        return schema(value, what)
    if not isinstance(value, dict) or set(value) != set(schema):
        raise InvalidArgumentError(
            f"{what} must be a JSON object with the keys {sorted(schema)}, got {short(value)}")
    return {k: _checked(value[k], s, f"{what}.{k}") for k, s in schema.items()}


def generator_from_json(state: Any, what: str = "rng") -> np.random.Generator:
    """A new generator in the saved ``state``, every field checked first.

    Raises
    ------
    InvalidArgumentError
        If the state is not exactly one that :func:`generator_to_json` writes.
    """
    if not isinstance(state, dict) or state.get("bit_generator") not in _SCHEMAS:
        raise InvalidArgumentError(
            f"{what}.bit_generator must be one of {list(BIT_GENERATORS)}, got "
            f"{short(state.get('bit_generator') if isinstance(state, dict) else state)}")
    name = state["bit_generator"]
    fields = {k: v for k, v in state.items() if k != "bit_generator"}
    checked = _checked(fields, _SCHEMAS[name], what)
    # In range, yet degenerate: a PCG stream needs an odd increment (NumPy's seeding
    # makes it so), a Mersenne Twister a key that is not all zero; else the
    # generator repeats itself or, asked for a bounded integer, never returns.
    if name.startswith("PCG64") and checked["state"]["inc"] % 2 == 0:
        raise InvalidArgumentError(f"{what}.state.inc must be odd for {name}, got an even one")
    if name == "MT19937" and not checked["state"]["key"].any():
        raise InvalidArgumentError(f"{what}.state.key must not be all zero for MT19937")
    bit_generator: np.random.BitGenerator = getattr(np.random, name)()
    bit_generator.state = {"bit_generator": name, **checked}
    return np.random.Generator(bit_generator)
