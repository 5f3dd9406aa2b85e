"""The engine's ``reduce`` over a communicator: one allreduce per step, every layer in one buffer.

Each process packs, into one 1-D buffer on its device, its gradients each
multiplied by its batch's total (samples, or summed sample weights), then the
total itself: ``[t * g_1, ..., t * g_P, t]``. One allreduce sums the buffer
over the processes; each divides by the summed total and unpacks. That is the
gradient of the mean loss over every process's batch, each sample weighing
what it would in one batch of them all; a process without a batch sends zeros.

How the buffer meets the communicator (:attr:`GradientAllreduce.path`):

``"host memory, in place"``
    NumPy, and torch on the CPU: the buffer is host memory, summed where it lies.
``"CUDA memory, direct"``
    CuPy, and torch on a CUDA GPU, with a communicator that takes device
    buffers (a CUDA-aware MPI): the device array goes to it through
    ``__cuda_array_interface__`` / DLPack, once the GPU has finished making it.
``"pinned host buffer"``
    CuPy and torch on a CUDA GPU otherwise: one page-locked host buffer, made
    once per ``fit``, takes one copy from the GPU and one back per step.
``"host buffer"``
    JAX, array-api-strict and any other backend: a copy to a host buffer and
    one back per step.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..backends import Backend
from ..engine import Params
from .buffers import HostBuffer
from .communicator import Communicator

__all__ = ["GradientAllreduce"]


class GradientAllreduce:
    """Sums each step's gradients over a communicator's processes; the engine's ``reduce``.

    Parameters
    ----------
    communicator : Communicator
    runtime : Backend
        Where the gradients live.

    Attributes
    ----------
    path : str or None
        How the buffer went to the communicator (see the module's notes); None
        before the first step.
    calls : int
        Allreduces so far (one per step).
    seconds : float
        Time spent in the communicator's allreduce, waiting for the slowest
        process included; packing and unpacking the buffer is not counted.
    nbytes : int
        The buffer's size.
    """

    def __init__(self, communicator: Communicator, runtime: Backend) -> None:
        self.communicator, self.runtime = communicator, runtime
        self.path: str | None = None
        self.calls = 0
        self.seconds = 0.0
        self.nbytes = 0
        self._stage: HostBuffer | None = None

    def __call__(self, grads: Params, total: Any) -> tuple[Params, Any]:
        xp, runtime = self.runtime.xp, self.runtime
        flat = grads.flat()
        if isinstance(total, (int, float)):
            tail = xp.full((1,), float(total), dtype=runtime.dtype, device=runtime.device)
        else:  # a 0-d device array: the batch's summed sample weights
            tail = xp.reshape(xp.astype(total, runtime.dtype), (1,))
        packed = xp.concat([*(xp.reshape(g * total, (-1,)) for g in flat), tail])
        summed = self._allreduce(packed)
        everyone = summed[-1]
        out = []
        lo = 0
        for g in flat:
            hi = lo + math.prod(g.shape)
            out.append(xp.reshape(summed[lo:hi] / everyone, g.shape))
            lo = hi
        return grads.like(out), everyone

    def _allreduce(self, packed: Any) -> Any:
        """``packed`` summed over the processes: itself, changed in place, or a new array."""
        communicator, runtime = self.communicator, self.runtime
        view = runtime.host_view(packed)
        if view is not None:
            self._call(view, "host memory, in place")
            return packed
        if communicator.device_buffers and runtime.device_memory(packed):
            if not communicator.stream_ordered:  # MPI reads the memory now, not in stream order
                runtime.synchronize()
            self._call(packed, "CUDA memory, direct")
            return packed
        n = int(packed.shape[0])
        if self._stage is None or self._stage.array.shape[0] != n:
            self._stage = HostBuffer(runtime, n)
        host = self._stage.load(packed)
        self._call(host, "pinned host buffer" if self._stage.pinned else "host buffer")
        return self._stage.store()

    def _call(self, buffer: Any, path: str) -> None:
        self.path = path
        self.nbytes = int(buffer.shape[0]) * np.dtype(self.runtime.dtype_name).itemsize
        start = time.perf_counter()
        self.communicator.allreduce(buffer)
        self.seconds += time.perf_counter() - start
        self.calls += 1
