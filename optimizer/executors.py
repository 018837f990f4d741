"""Where scenario evaluations run: in this process, in local processes, or on a Dask cluster.

One interface, three back ends (design section 6): users who outgrow one machine point the
engine at a Dask scheduler instead of changing code.

* **Lanes.** Work goes to *lanes*; a lane is one worker (this process, one child process,
  one Dask worker), and a caller that sends the same work to the same lane every time (the
  decomposition sends each block of scenarios to one lane) finds it warm there: the block's
  LP stays in that worker's cache and is hot-started at every later plan. Local processes
  are one single-process pool per lane; on Dask each lane is the client's
  ``concurrent.futures`` executor pinned to one worker (if a worker leaves, its lane moves
  to another one, where its tasks run cold and still correctly, since every task can
  rebuild what it needs).
* **Shared data goes once.** :meth:`Executor.share` sends an object (the instance) to every
  worker once; tasks then carry a token. Processes get it by one install task per lane;
  Dask workers by one install task each, which takes the scattered object as its argument
  and keeps it by token (a task that carried the Dask future instead would be at the mercy
  of Dask's Active Memory Manager, which drops the replicas no waiting task needs, so the
  object was fetched and unpickled again at later iterations). In process, it is simply
  passed along.
* **Batches.** :func:`batch_size` sizes the tasks (see there for the rule).
* **Loopback only.** The engine never starts a server: processes talk over pipes, and Dask
  is only ever a client of a scheduler the user started. The tests and benchmarks start
  their own scheduler and workers on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import Executor as FuturesExecutor
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from optimizer.errors import SolverFailure, UsageError

# Environment variable Dask itself reads for the scheduler address.
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
# Seconds to wait for a Dask scheduler to answer, and for its first worker: a scheduler on
# the same network answers in milliseconds, and a wrong address should not cost a minute.
CONNECT_TIMEOUT = 5.0
# A scheduler address: tcp://HOST:PORT (a name, IPv4, or [IPv6] in brackets).
_ADDRESS = re.compile(r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
                      r":(?P<port>[0-9]{1,5})")

# Batch sizing (scenarios per task). Measured on 2 cores at 200 nodes: a hot-started
# scenario costs about 0.3-0.5 ms; a task costs about 1 ms of overhead on a local process
# pool (pickling, pipe) and 5-10 ms on Dask (scheduler round trip, transfer). A task of
# MIN_BATCH scenarios keeps that overhead near 5% of its work.
MIN_BATCH = {"in-process": 1, "processes": 64, "dask": 512}
# How often a local worker process checks that its parent is still there.
PARENT_WATCH_SECONDS = 1.0
# No more than this many tasks per lane per round: enough to keep a lane's queue busy while
# results come back, few enough that overhead stays bounded when scenarios are many.
TASKS_PER_LANE = 4


def batch_size(kind: str, scenarios: int, lanes: int) -> int:
    """Scenarios per task for ``scenarios`` spread over ``lanes``.

    Rule: a lane's share split into at most :data:`TASKS_PER_LANE` tasks, but never fewer
    than ``MIN_BATCH[kind]`` scenarios in a task (so per-task overhead stays near 5% of
    the task's work), and never more than a lane's share. In process there is no per-task
    overhead: one task per lane.
    """
    share = math.ceil(scenarios / max(lanes, 1))
    if kind == "in-process":
        return max(share, 1)
    return max(1, min(share, max(MIN_BATCH[kind], math.ceil(share / TASKS_PER_LANE))))


@dataclass(frozen=True)
class Shared:
    """A handle on an object every worker holds: its token and how tasks reach it."""

    token: str
    ref: Any  # the object (in process), None (processes and Dask: installed by token)


# Worker-side store of shared objects, by token (a process lane's install task fills it).
_SHARED: dict[str, Any] = {}
_SHARED_LOCK = threading.Lock()
_SHARED_KEEP = 2


def _install(token: str, value: Any) -> None:
    with _SHARED_LOCK:
        _SHARED[token] = value
        while len(_SHARED) > _SHARED_KEEP:
            _SHARED.pop(next(iter(_SHARED)))


def _uninstall(token: str) -> None:
    with _SHARED_LOCK:
        _SHARED.pop(token, None)


def _call(fn: Callable[..., Any], token: str, ref: Any, *args: Any) -> Any:
    """Worker side: ``fn(shared value, token, *args)``."""
    if ref is None:
        with _SHARED_LOCK:
            value = _SHARED.get(token)
        if value is None:
            raise RuntimeError("a worker lost the data shared with it (restarted?)")
    else:
        value = ref
    return fn(value, token, *args)


def _peak_rss_bytes() -> int:
    """Peak resident memory of the calling process (Linux reports kilobytes)."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class Executor(ABC):
    """Runs functions on lanes; see the module docstring."""

    kind: str
    lanes: int

    @abstractmethod
    def share(self, value: Any) -> Shared:
        """Send ``value`` to every worker once; tasks then name it by the handle."""

    @abstractmethod
    def submit(self, lane: int, fn: Callable[..., Any], shared: Shared,
               *args: Any) -> Future:
        """Run ``fn(value, token, *args)`` on ``lane``, where ``value`` is the shared one."""

    @abstractmethod
    def on_every_lane(self, fn: Callable[..., Any], *args: Any) -> list[Any]:
        """Run ``fn(*args)`` once on every lane and wait (clean-up, diagnostics)."""

    def release(self, shared: Shared) -> None:
        """Forget a shared object on every worker."""
        self.on_every_lane(_uninstall, shared.token)

    def repin_lost(self) -> set[int]:
        """Lanes whose worker has gone, moved to workers still there (Dask only)."""
        return set()

    def peak_memory(self) -> list[int]:
        """Peak resident bytes of each lane's worker process."""
        return self.on_every_lane(_peak_rss_bytes)

    def close(self) -> None:  # noqa: B027 - optional for back ends holding nothing
        """Stop what this executor started (never a scheduler it only connected to)."""

    def describe(self) -> str:
        return f"{self.kind}, {self.lanes} lane{'s' if self.lanes != 1 else ''}"

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcess(Executor):
    """Everything runs here, at submit time."""

    kind = "in-process"
    lanes = 1

    def share(self, value: Any) -> Shared:
        return Shared(uuid.uuid4().hex, value)

    def submit(self, lane: int, fn: Callable[..., Any], shared: Shared,
               *args: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(_call(fn, shared.token, shared.ref, *args))
        except BaseException as exc:  # delivered to whoever waits, like a pool would
            future.set_exception(exc)
        return future

    def on_every_lane(self, fn: Callable[..., Any], *args: Any) -> list[Any]:
        return [fn(*args)]

    def release(self, shared: Shared) -> None:
        pass


def _worker_start() -> None:
    """Child processes compute on one thread each (the lanes are the parallelism) and leave
    Ctrl-C and SIGTERM to the parent, which stops the run and keeps its incumbent; a child
    that died of them would break the pool the parent still needs to evaluate that
    incumbent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a batch scheduler signals them all
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="exit-with-parent").start()


def _exit_with_parent(parent: int) -> None:
    """End this worker once its parent is gone. A parent killed outright (SIGKILL, or
    SIGTERM to a script that calls the API without the CLI's handlers) shuts no pool down,
    and a pool's worker holds both ends of its own queue, so it would wait for work for
    ever (about 400 MB each at 200 x 10,000)."""
    while True:
        time.sleep(PARENT_WATCH_SECONDS)
        if os.getppid() != parent:
            os._exit(0)


def _ready() -> int:
    return os.getpid()


@contextlib.contextmanager
def _spawning_without_main() -> Iterator[None]:
    """Children started in here do not re-import the parent's ``__main__``.

    ``spawn`` normally runs the parent's main script again in every child, which starts the
    whole solve again in a script without an ``if __name__ == "__main__"`` guard. Every
    function the lanes run lives in this package, so the children never need the script.
    """
    main = sys.modules.get("__main__")
    saved = {name: getattr(main, name) for name in ("__file__", "__spec__")
             if main is not None and hasattr(main, name)}
    try:
        for name in saved:
            if name == "__spec__":
                main.__spec__ = None  # type: ignore[union-attr]
            else:
                delattr(main, name)
        yield
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


class Processes(Executor):
    """One single-process pool per lane, started with ``spawn``.

    ``spawn`` rather than ``fork``: the parent may hold HiGHS's thread pool, and forking a
    process with live threads can deadlock the child. The children start here, at once
    (about a second, in parallel), so a failure to start shows before any work is sent.
    """

    kind = "processes"

    def __init__(self, workers: int) -> None:
        self.lanes = max(1, int(workers))
        context = multiprocessing.get_context("spawn")
        self._pools = [ProcessPoolExecutor(max_workers=1, mp_context=context,
                                           initializer=_worker_start)
                       for _ in range(self.lanes)]
        try:
            with _spawning_without_main():
                started = [pool.submit(_ready) for pool in self._pools]
            self.pids = [f.result() for f in started]
        except BaseException:
            self.close()
            raise

    def share(self, value: Any) -> Shared:
        token = uuid.uuid4().hex
        for future in [pool.submit(_install, token, value) for pool in self._pools]:
            future.result()
        return Shared(token, None)

    def submit(self, lane: int, fn: Callable[..., Any], shared: Shared,
               *args: Any) -> Future:
        return self._pools[lane % self.lanes].submit(_call, fn, shared.token, None, *args)

    def on_every_lane(self, fn: Callable[..., Any], *args: Any) -> list[Any]:
        return [f.result() for f in [pool.submit(fn, *args) for pool in self._pools]]

    def close(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskCluster(Executor):
    """Lanes are the workers of a Dask scheduler, reached through ``Client.get_executor``.

    Each lane is pinned strictly (``allow_other_workers=False``): with loose pinning Dask's
    work stealing moves tasks to idle workers, which then rebuild those scenarios' LPs
    cold and keep a second copy (measured: a third more memory and rounds several times
    slower). A worker that leaves would strand its lane's tasks, so the caller asks
    :meth:`repin_lost` while it waits, and resubmits what a moved lane had in flight.
    """

    kind = "dask"

    def __init__(self, address: str) -> None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise UsageError("--scheduler needs Dask: pip install "
                             "'community-resilience[dask]'") from None
        address = checked_address(address)
        try:
            self._client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, ValueError) as exc:  # TimeoutError is an OSError
            raise UsageError(f"cannot reach the Dask scheduler at {address} within "
                             f"{CONNECT_TIMEOUT:g} s: {exc}") from None
        workers = self._alive()
        if not workers:
            try:
                self._client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
            except (OSError, ValueError):
                self._client.close()
                raise UsageError(f"the Dask scheduler at {address} has no worker (none "
                                 f"joined within {CONNECT_TIMEOUT:g} s); start one with "
                                 f"`dask worker {address}`") from None
            workers = self._alive()
        self.address = address
        self.workers = workers
        self.lanes = len(workers)
        self._lanes: list[FuturesExecutor] = [self._pinned(w) for w in workers]
        self._scattered: dict[str, Any] = {}  # token -> Dask future of the shared object
        self._holders: dict[str, set[str]] = {}  # token -> workers that installed it

    def _pinned(self, worker: str) -> FuturesExecutor:
        return self._client.get_executor(workers=[worker], allow_other_workers=False,
                                         pure=False)

    def _alive(self) -> list[str]:
        # Asked of the scheduler each time. Not Client.scheduler_info(): the client's own
        # refresh, every couple of seconds, caches an identity without per-worker entries
        # and can overwrite a full one between the fetch and the read; a run then saw
        # "every worker left" while both were busy working (CI, distributed 2026.8).
        return sorted(self._client.nthreads())

    def repin_lost(self) -> set[int]:
        alive = self._alive()
        lost = {lane for lane, w in enumerate(self.workers) if w not in alive}
        if lost and not alive:
            raise SolverFailure(f"every Dask worker of {self.address} left during the run")
        for i, lane in enumerate(sorted(lost)):
            self.workers[lane] = alive[i % len(alive)]
            self._lanes[lane] = self._pinned(self.workers[lane])
        if lost:
            # A lane may have moved to a worker that joined after the data were shared.
            for token in self._scattered:
                self._install(token, set(self.workers))
        return lost

    def _install(self, token: str, workers: set[str]) -> None:
        """Have each of ``workers`` that lacks it keep the shared object ``token``."""
        missing = sorted(workers - self._holders.setdefault(token, set()))
        futures = [self._client.submit(_install, token, self._scattered[token], workers=[w],
                                       allow_other_workers=False, pure=False)
                   for w in missing]
        self._client.gather(futures)
        self._holders[token].update(missing)

    def share(self, value: Any) -> Shared:
        token = uuid.uuid4().hex
        # One copy goes to the cluster; each worker's install task fetches it from there.
        self._scattered[token] = self._client.scatter(value, hash=False)
        self._install(token, set(self.workers))
        return Shared(token, None)

    def submit(self, lane: int, fn: Callable[..., Any], shared: Shared,
               *args: Any) -> Future:
        return self._lanes[lane % self.lanes].submit(_call, fn, shared.token, None, *args)

    def on_every_lane(self, fn: Callable[..., Any], *args: Any) -> list[Any]:
        self.repin_lost()
        futures = [self._client.submit(fn, *args, workers=[w], allow_other_workers=False,
                                       pure=False) for w in self.workers]
        return self._client.gather(futures)

    def release(self, shared: Shared) -> None:
        future = self._scattered.pop(shared.token, None)
        if future is not None:
            future.release()
        alive = set(self._alive())
        holders = sorted(self._holders.pop(shared.token, set()) & alive)
        self._client.gather([self._client.submit(_uninstall, shared.token, workers=[w],
                                                 allow_other_workers=False, pure=False)
                             for w in holders])

    def close(self) -> None:
        for future in self._scattered.values():
            future.release()
        self._scattered.clear()
        self._holders.clear()
        self._client.close()

    def describe(self) -> str:
        return f"dask at {self.address}, {self.lanes} worker{'s' if self.lanes != 1 else ''}"


def scheduler_address(scheduler: str | None) -> str | None:
    """The Dask scheduler to use: the option, else ``DASK_SCHEDULER_ADDRESS``, else none;
    checked by :func:`checked_address`."""
    address = scheduler or os.environ.get(SCHEDULER_ENV) or None
    return None if address is None else checked_address(address)


def checked_address(address: str) -> str:
    """``address`` if it has the form ``tcp://HOST:PORT`` with a port in 1..65535, else a
    usage error saying what is expected (Dask itself would try for a minute, then fail
    with a traceback)."""
    found = _ADDRESS.fullmatch(address.strip())
    if found is None or not 1 <= int(found["port"]) <= 65535:
        shown = address if len(address) <= 80 else address[:77] + "..."
        raise UsageError(f"--scheduler {shown!r} is not a Dask scheduler address; write "
                         "tcp://HOST:PORT, as in tcp://10.0.0.5:8786 (also for "
                         f"{SCHEDULER_ENV})")
    return address.strip()


def open_executor(workers: int | None = None, scheduler: str | None = None, *,
                  scenarios: int | None = None, small: int = 0) -> Executor:
    """The executor the options ask for.

    Parameters
    ----------
    workers
        Local processes; ``None`` means the number of cores. 1 (or 0) runs in process.
    scheduler
        A Dask scheduler address (``tcp://host:port``); ``None`` falls back on the
        ``DASK_SCHEDULER_ADDRESS`` environment variable. A scheduler wins over ``workers``.
    scenarios, small
        When ``workers`` was not given and there are fewer than ``small`` scenarios, run in
        process: starting processes (about a second each with ``spawn``) would cost more
        than it saves.
    """
    address = scheduler_address(scheduler)
    if address:
        return DaskCluster(address)
    if workers is None:
        if scenarios is not None and scenarios < small:
            return InProcess()
        workers = os.cpu_count() or 1
    if workers < 0:
        raise UsageError(f"--workers must be 0 or more (got {workers})")
    if workers <= 1:
        return InProcess()
    return Processes(workers)
