"""Training across processes and machines: data parallelism over MPI.

::

    # train.py, launched as: mpiexec -n 4 python train.py
    from agnostic_mlp import MLP
    from agnostic_mlp.distributed import MPIDataParallel

    m = MLP(784, [256, 128], 10, loss="categorical_cross_entropy", seed=0)
    m.fit(X_shard, y_shard, epochs=10, batch_size=128, parallel=MPIDataParallel())

Each process holds its own shard and takes ``batch_size`` samples of it per
step; N processes train the model that one process trains on batches made of
each process's batch, in rank order (see :mod:`.data_parallel`). mpi4py is
imported only when an :class:`MPIDataParallel` is made (``pip install -e
'.[mpi]'`` from a clone of the repository); another transport (NCCL) is a
:class:`~.communicator.Communicator` given to :class:`DataParallel`.
"""

from ..errors import ProcessMismatchError
from .communicator import Communicator
from .data_parallel import DataParallel, MPIDataParallel
from .mpi import MPICommunicator
from .reduce import GradientAllreduce

__all__ = [
    "Communicator",
    "DataParallel",
    "GradientAllreduce",
    "MPICommunicator",
    "MPIDataParallel",
    "ProcessMismatchError",
]
