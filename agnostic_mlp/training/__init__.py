"""Training: the ``fit`` loop, its epochs, callbacks, history and checkpoints."""

from .callbacks import Callback, EarlyStopping, LambdaCallback, Progress, ReduceLROnPlateau
from .checkpointing import Checkpoint
from .history import History

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "Progress",
    "ReduceLROnPlateau",
]
