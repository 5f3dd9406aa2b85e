"""The communicator over MPI, through mpi4py (imported only when one is made).

Launch the processes with MPI's launcher (``mpiexec -n 4 python train.py``,
Slurm's ``srun``); each makes an :class:`MPICommunicator` over
``MPI.COMM_WORLD``. If one process dies, the launcher ends the others, so a
job never waits for a dead peer.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from ..constraints import BOOLEAN, NONE, check
from ..errors import BackendUnavailableError

__all__ = ["MPICommunicator", "says_cuda_aware"]

_INSTALL = ("training across processes needs mpi4py and an MPI library: pip install "
            "'agnostic_mlp[mpi]' (mpi4py with MPICH's wheel), or mpi4py built against "
            "your cluster's MPI")


def says_cuda_aware(comm: Any) -> bool:
    """Whether the MPI library behind ``comm`` says it takes CUDA memory.

    MPI 4.1 names the kinds of memory a communicator takes in its info key
    ``mpi_memory_alloc_kinds`` (``"mpi,system,cuda:device"`` for a CUDA-aware
    build); a library that does not say is taken not to be CUDA-aware.
    """
    try:
        kinds = comm.Get_info().Get("mpi_memory_alloc_kinds") or ""
    except Exception:  # an MPI older than 4.1, or one without the key
        return False
    return any(kind.strip().split(":")[0] == "cuda" for kind in kinds.split(","))


class MPICommunicator:
    """A :class:`~agnostic_mlp.distributed.communicator.Communicator` over mpi4py.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm, optional
        The processes that train together; ``MPI.COMM_WORLD`` by default. It is
        duplicated (a collective call), so training's messages never mix with
        the program's own.
    cuda_aware : bool, optional
        Whether the MPI library takes CUDA memory; by default what it says of
        itself (see :func:`says_cuda_aware`). Set True for a CUDA-aware build that
        does not say so (Open MPI before 5, MVAPICH2-GDR).

    Raises
    ------
    BackendUnavailableError
        If mpi4py cannot be imported.
    """

    stream_ordered = False

    def __init__(self, comm: Any = None, cuda_aware: bool | None = None) -> None:
        check(cuda_aware, "cuda_aware", NONE, BOOLEAN)
        try:
            from mpi4py import MPI
        except ImportError as exc:  # an optional dependency
            raise BackendUnavailableError(f"{_INSTALL} ({exc})") from exc
        self._mpi = MPI
        self.comm = (MPI.COMM_WORLD if comm is None else comm).Dup()
        self._cuda = says_cuda_aware(self.comm) if cuda_aware is None else cuda_aware

    @property
    def rank(self) -> int:
        return int(self.comm.Get_rank())

    @property
    def size(self) -> int:
        return int(self.comm.Get_size())

    @property
    def device_buffers(self) -> bool:
        return self._cuda

    @property
    def library(self) -> str:
        """The MPI library's name and version, as it gives them."""
        return str(self._mpi.Get_library_version()).splitlines()[0].strip()

    def allreduce(self, buffer: Any) -> None:
        # NumPy arrays, and CUDA arrays through __cuda_array_interface__ / DLPack.
        self.comm.Allreduce(self._mpi.IN_PLACE, buffer, op=self._mpi.SUM)

    def allgather(self, value: Any) -> list[Any]:
        return list(self.comm.allgather(value))

    def abort(self, code: int) -> NoReturn:
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(code)
        raise SystemExit(code)  # Abort does not return; this line satisfies the type

    def __repr__(self) -> str:
        return f"MPICommunicator(rank={self.rank}, size={self.size})"
