"""What activations, losses, optimizers and schedules have in common: a name and a config.

A component is rebuilt from its class and :meth:`Component.get_config`, plain
JSON data, which is how files store it (names and numbers, never code) and
how two components are compared.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Component"]


class Component:
    """A named building block, equal to another of its class with the same config.

    Attributes
    ----------
    name : str
        The name it is chosen by (``"sigmoid"``, ``"adam"``, ...).
    """

    name = ""

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, as plain JSON data: ``type(self)(**config)``."""
        return {}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self) -> int:
        return hash((type(self), repr(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
