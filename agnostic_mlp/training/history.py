"""What ``fit`` returns: per-epoch numbers, as Keras's ``History``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

__all__ = ["History"]


class History(Mapping[str, list[float]]):
    """Per-epoch lists of the logged numbers, readable as a mapping (``history["loss"]``).

    Attributes
    ----------
    history : dict of str to list of float
        ``loss`` and, where they apply, ``accuracy``, ``val_loss``, ``val_accuracy``.
    epoch : list of int
        The epochs run (0-based).
    best_epoch : int or None
        With early stopping, the epoch whose weights the model kept.
    stopped_epoch : int or None
        The epoch after which training stopped early.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None

    def record(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Append one epoch's ``logs``."""
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self.epoch.append(epoch)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.history)

    def __len__(self) -> int:
        return len(self.history)

    def __repr__(self) -> str:
        return (f"History(epochs={len(self.epoch)}, keys={list(self.history)}, "
                f"best_epoch={self.best_epoch}, stopped_epoch={self.stopped_epoch})")
