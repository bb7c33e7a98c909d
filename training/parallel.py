"""Scale-out helpers: `jax.distributed` from environment variables, the device mesh, shardings.

One mesh axis, "data", over every device of every process. The batch is sharded over it (data
parallel); with FSDP the parameters and optimizer moments are sharded over it too (each array on
its largest dimension the device count divides), otherwise they are replicated. XLA inserts the
collectives (gradient all-reduce, parameter all-gather) from these shardings.

Multi-process: set EMBER_COORDINATOR (host:port of process 0), EMBER_NUM_PROCESSES and
EMBER_PROCESS_ID in each process before it touches JAX; `initialize_distributed()` then calls
`jax.distributed.initialize`. On CPU the cross-process collectives use gloo (JAX's default CPU
collectives implementation; set explicitly here). Every process builds the same global batch from
the same deterministic mixture and hands JAX only the rows of its own devices
(`global_array`), so the global batch, and therefore the loss, equals the single-process run's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"
ENV_COORDINATOR = "EMBER_COORDINATOR"
ENV_NUM_PROCESSES = "EMBER_NUM_PROCESSES"
ENV_PROCESS_ID = "EMBER_PROCESS_ID"
# Seconds every process waits for all of them to reach the coordinator (JAX's default: 300).
ENV_JOIN_TIMEOUT = "EMBER_JOIN_TIMEOUT_SECONDS"

# Arrays smaller than this stay replicated under FSDP (norm scales, biases): sharding them saves
# nothing and costs a collective.
FSDP_MIN_SIZE = 2**14


def distributed_env() -> tuple[str, int, int] | None:
    """(coordinator, num_processes, process_id) from the environment, or None if unset."""
    coordinator = os.environ.get(ENV_COORDINATOR)
    if not coordinator:
        return None
    try:
        num = int(os.environ[ENV_NUM_PROCESSES])
        pid = int(os.environ[ENV_PROCESS_ID])
    except (KeyError, ValueError) as error:
        raise ValueError(
            f"{ENV_COORDINATOR} is set, so {ENV_NUM_PROCESSES} and {ENV_PROCESS_ID} must be "
            f"integers: {error}"
        ) from None
    if num < 1 or not 0 <= pid < num:
        raise ValueError(f"bad process id {pid} for {num} processes")
    return coordinator, num, pid


def initialize_distributed() -> bool:
    """Call `jax.distributed.initialize` once if the EMBER_* variables ask for it."""
    env = distributed_env()
    if env is None or jax.distributed.is_initialized():
        return False
    coordinator, num, pid = env
    timeout = int(os.environ.get(ENV_JOIN_TIMEOUT) or 300)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(
            coordinator_address=coordinator,
            num_processes=num,
            process_id=pid,
            initialization_timeout=timeout,
        )
    except Exception as error:  # noqa: BLE001 - JAX raises bare XlaRuntimeError/RuntimeError
        raise RuntimeError(
            f"process {pid} of {num}: the processes did not all join the coordinator "
            f"{coordinator} within {timeout} s ({type(error).__name__}: {error})"
        ) from error
    return True


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named "data" over all devices (of all processes)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh, ndim: int, batch_axis: int = 0) -> NamedSharding:
    """Shard axis `batch_axis` of an `ndim`-dimensional batch array over the data axis."""
    spec = [None] * ndim
    spec[batch_axis] = DATA_AXIS
    return NamedSharding(mesh, PartitionSpec(*spec))


def param_sharding(mesh: Mesh, shape: Sequence[int], fsdp: bool) -> NamedSharding:
    """FSDP: shard the largest dimension the mesh size divides; else replicate."""
    n = mesh.shape[DATA_AXIS]
    if not fsdp or n == 1 or int(np.prod(shape, dtype=np.int64)) < FSDP_MIN_SIZE:
        return replicated(mesh)
    for axis in sorted(range(len(shape)), key=lambda a: -shape[a]):
        if shape[axis] % n == 0:
            spec = [None] * len(shape)
            spec[axis] = DATA_AXIS
            return NamedSharding(mesh, PartitionSpec(*spec))
    return replicated(mesh)


def global_array(host: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global jax.Array from the full host array; each process transfers only its shards."""
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def to_host(x: jax.Array) -> np.ndarray:
    """The full value of a (possibly multi-process, sharded) array as numpy, on every process."""
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
        return np.asarray(x)
    if x.is_fully_replicated:
        return np.asarray(x.addressable_data(0))
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))
