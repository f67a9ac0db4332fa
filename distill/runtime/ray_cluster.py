"""Joining a Ray cluster, and batches of work sent to actors with a retry when an actor dies.

Ray is an optional extra (``pip install 'distill[ray]'``) and is imported only here, only when a recipe says
``executor: {kind: ray}``: ``distill --help`` and every local run never import it.

``ActorBatches`` keeps one batch in flight per actor (so the driver's budgets bound what is outstanding and a lost
actor costs exactly the batch it held) and hands back each batch's result as it completes, in completion order.
When an actor dies (killed, its node lost, out of memory), its batch goes again to a fresh actor, up to
``max_retries`` times; ``retried`` counts the items sent again and a batch that ran out of retries comes back as
``LOST`` for the caller to leave unstored (a rerun plans it again). An exception raised by the work itself is not a
lost worker: it is raised to the caller, as it would be locally.

Not provided: scheduling across stages, autoscaling, or any state outside the driver; the store stays on the driver.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distill.errors import DistillError, UsageError
from distill.recipe import ExecutorConfig

LOST = object()  # the result of a batch whose actors all died
DRILL_DIR_ENV = "DISTILL_RAY_DRILL_DIR"


def ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("executor.kind ray needs Ray: pip install 'distill[ray]' (or run with --executor local)") \
            from None
    return ray


def connect(executor: ExecutorConfig) -> Any:
    """Ray, initialised: the recipe's ``executor.address`` (``auto``, ``ray://HOST:PORT``), else ``RAY_ADDRESS``,
    else a cluster started on this machine. A process already connected (a test's fixture, a notebook) stays so."""
    ray = ray_module()
    if ray.is_initialized():
        return ray
    address = executor.address or os.environ.get("RAY_ADDRESS") or None
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a new local cluster"
        raise DistillError(f"executor: cannot join the Ray cluster at {where}: {str(exc).splitlines()[0][:200]}; "
                           "start one with `ray start --head`, or set executor.address / RAY_ADDRESS") from None
    return ray


def actor_count(ray: Any, executor: ExecutorConfig, num_gpus: float = 0.0) -> int:
    """``executor.actors``, else as many actors as the cluster's CPUs (and GPUs, when each asks for some) fit."""
    if executor.actors is not None:
        return executor.actors
    resources = ray.cluster_resources()
    fits = int(resources.get("CPU", 1) // executor.num_cpus)
    if num_gpus > 0:
        gpus = int(resources.get("GPU", 0) // num_gpus)
        if gpus < 1:
            raise UsageError(f"executor.num_gpus {num_gpus:g}: the Ray cluster has {resources.get('GPU', 0):g} GPUs; "
                             "set executor.num_gpus: 0 to run the teacher on CPUs")
        fits = min(fits, gpus)
    return max(1, fits)


def _lost_worker_errors(ray: Any) -> tuple[type[BaseException], ...]:
    exc = ray.exceptions
    return tuple(getattr(exc, name) for name in ("RayActorError", "WorkerCrashedError", "NodeDiedError",
                                                 "ObjectLostError", "OutOfMemoryError") if hasattr(exc, name))


@dataclass
class _InFlight:
    actor: Any
    batch: list[Any]
    attempt: int


class ActorBatches:
    """Batches sent to up to ``size`` actors made by ``make_actor()``, through ``call(actor, batch) -> ObjectRef``;
    see the module docstring."""

    def __init__(self, ray: Any, make_actor: Callable[[], Any], call: Callable[[Any, list[Any]], Any], size: int,
                 max_retries: int):
        self.ray = ray
        self.make_actor = make_actor
        self.call = call
        self.size = max(1, size)
        self.max_retries = max_retries
        self.retried = 0  # items sent again after their actor died
        self.lost = 0  # items whose batch ran out of retries
        self.actors_lost = 0
        self._idle: list[Any] = []
        self._flight: dict[Any, _InFlight] = {}  # ObjectRef -> what it carries
        self._made = 0
        self._lost_errors = _lost_worker_errors(ray)

    def has_room(self) -> bool:
        return len(self._flight) < self.size

    def in_flight(self) -> list[Any]:
        return list(self._flight)

    def submit(self, batch: list[Any], attempt: int = 0) -> None:
        if self._idle:
            actor = self._idle.pop()
        else:
            actor = self.make_actor()
            self._made += 1
        self._flight[self.call(actor, batch)] = _InFlight(actor, batch, attempt)

    def settle(self, ref: Any) -> tuple[list[Any], Any] | None:
        """For a ready ``ref``: (its batch, its result or ``LOST``), or None when its actor died and the batch went
        again to a fresh actor."""
        flight = self._flight.pop(ref)
        try:
            result = self.ray.get(ref)
        except self._lost_errors:
            self.actors_lost += 1
            self._discard(flight.actor)
            if flight.attempt >= self.max_retries:
                self.lost += len(flight.batch)
                return flight.batch, LOST
            self.retried += len(flight.batch)
            self.submit(flight.batch, flight.attempt + 1)
            return None
        except self.ray.exceptions.RayTaskError as exc:  # the work itself raised: as it would locally
            self._idle.append(flight.actor)
            raise exc.as_instanceof_cause() from None
        self._idle.append(flight.actor)
        return flight.batch, result

    def _discard(self, actor: Any) -> None:
        try:
            self.ray.kill(actor)
        except Exception:  # already gone
            pass

    def close(self) -> None:
        """Let idle actors release what they hold (sandboxes, worker processes), then end every actor."""
        actors = self._idle + [f.actor for f in self._flight.values()]
        closing = [a.close.remote() for a in self._idle]
        try:
            self.ray.get(closing, timeout=30)
        except Exception:  # a close that fails or hangs: the kill below ends the actor anyway
            pass
        for actor in actors:
            self._discard(actor)
        self._idle.clear()
        self._flight.clear()


def drill(kind: str) -> None:
    """A fault drill, for tests and for rehearsing a lost worker on a real cluster: when the directory named by
    ``DISTILL_RAY_DRILL_DIR`` (in the workers' environment) holds ``<kind>.kill``, the first actor of that kind to
    start a batch renames it to ``<kind>.killed`` and SIGKILLs itself, as the OOM killer or a lost node would."""
    folder = os.environ.get(DRILL_DIR_ENV)
    if not folder:
        return
    try:
        os.rename(os.path.join(folder, f"{kind}.kill"), os.path.join(folder, f"{kind}.killed"))
    except OSError:
        return
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
