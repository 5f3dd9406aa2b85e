"""What training across processes needs of a communication library, and nothing more.

A :class:`Communicator` sums a buffer across processes in place (the one
collective of a training step), gathers small Python values (the checks at
the start of ``fit``), and ends every process. The engine never sees it:
:class:`~agnostic_mlp.distributed.reduce.GradientAllreduce` turns it into the
engine's ``reduce``, and :class:`~agnostic_mlp.distributed.data_parallel.DataParallel`
into the hooks of the ``fit`` loop.
:class:`~agnostic_mlp.distributed.mpi.MPICommunicator` is the one over mpi4py.

Adding NCCL (a design, not yet written)
---------------------------------------
NCCL is what ChainerMN and PyTorch use between NVIDIA GPUs: its allreduce runs
on the GPUs and their links (NVLink, InfiniBand with GPUDirect), queued on a
CUDA stream like a kernel. An ``NCCLCommunicator`` for CuPy would plug in
here, with no change to the engine, the runners or the loop:

- Built over an ``MPICommunicator`` that bootstraps it: process 0 calls
  ``cupy.cuda.nccl.get_unique_id()``, the id reaches the others through the MPI
  communicator's :meth:`~Communicator.allgather`, and every
  process creates ``cupy.cuda.nccl.NcclCommunicator(size, uid, rank)`` with
  its own GPU current.
- :meth:`~Communicator.allreduce` calls ``comm.allReduce(ptr, ptr, n, dtype,
  NCCL_SUM, stream)`` on the buffer's device pointer and the current stream.
  :attr:`~Communicator.device_buffers` is True and
  :attr:`~Communicator.stream_ordered` is True: the reducer then neither
  stages through the host nor waits for the GPU before the call, since NCCL is
  ordered after the kernels that made the gradients and before the update's.
- :meth:`~Communicator.allgather` and :meth:`~Communicator.abort` (the checks
  at the start, the end of a failed job) go to the MPI communicator: they
  carry Python values, not GPU buffers.
- Faults: a dead peer makes an NCCL collective wait forever, so ``abort``
  must also call ``comm.abort()`` (``ncclCommAbort``), and a watchdog thread
  should end the job when a step has not completed in a set time; MPI's
  launcher then ends the other processes, as it does now.

``DataParallel(NCCLCommunicator(MPICommunicator()))`` would then train as
``MPIDataParallel()`` does, with the gradients never leaving the GPUs.
"""

from __future__ import annotations

from typing import Any, NoReturn, Protocol

__all__ = ["Communicator"]


class Communicator(Protocol):
    """A group of processes that can sum buffers and exchange small values.

    Attributes
    ----------
    rank : int
        This process's number in the group, from 0.
    size : int
        The number of processes.
    device_buffers : bool
        Whether :meth:`allreduce` takes arrays in CUDA memory directly (a
        CUDA-aware MPI, NCCL); otherwise it takes host (NumPy) arrays only.
    stream_ordered : bool
        Whether :meth:`allreduce` on a device buffer is queued on the GPU's
        stream (NCCL), so the GPU need not be waited for before the call.
    """

    @property
    def rank(self) -> int: ...

    @property
    def size(self) -> int: ...

    @property
    def device_buffers(self) -> bool: ...

    @property
    def stream_ordered(self) -> bool: ...

    def allreduce(self, buffer: Any) -> None:
        """Replace ``buffer`` (1-D, contiguous) by its sum over every process, in place."""

    def allgather(self, value: Any) -> list[Any]:
        """Every process's ``value`` (small, picklable), in rank order."""

    def abort(self, code: int) -> NoReturn:
        """End every process of the group with exit status ``code``."""
