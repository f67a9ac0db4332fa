"""A check run as Ray actors: one warm check per actor (a code sandbox kept between programs, a math worker pool
with its hard timeouts, the language models loaded once), fed batches of (problem, generation) pairs read from the
store by the driver; verdicts come back as each batch completes and the driver writes them with the same keyed
writes as a local run. Verdicts are the check's own, so they are the local run's (timings in details aside).

Each actor asks Ray for ``executor.num_cpus`` CPUs; a check that takes ``processes`` (math, language) and whose
recipe entry does not set it gets that many worker processes per actor, so an actor uses what it reserved.
A batch whose actor died goes to a fresh actor (``executor.max_retries`` times; ``retried`` counts the
generations checked again); past that it is ``lost``: no verdict is written and a rerun of verify checks it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from distill.checks.base import Check
from distill.recipe import ExecutorConfig
from distill.runtime.ray_cluster import LOST, ActorBatches, actor_count, connect
from distill.types import Verdict


def actor_params(check_class: type[Check], params: dict[str, Any], executor: ExecutorConfig) -> dict[str, Any]:
    """The recipe's parameters, plus ``processes`` = the actor's CPUs when the check takes it and they leave it
    unset (its default, the machine's CPU count, would overrun what the actor reserved on a shared node)."""
    if "processes" in check_class.parameter_names() and "processes" not in params:
        return {**params, "processes": max(1, int(executor.num_cpus))}
    return dict(params)


class RayChecks:
    def __init__(self, executor: ExecutorConfig, check_class: type[Check], params: dict[str, Any]):
        self.executor = executor
        self.check_class = check_class
        self.params = actor_params(check_class, params, executor)
        self.batch_size = executor.batch_size
        self.actors = 0
        self.retried = 0
        self.lost = 0
        self._pool: ActorBatches | None = None

    def _start(self) -> ActorBatches:
        from distill.runtime.ray_workers import CheckWorker

        ray = connect(self.executor)
        self.actors = actor_count(ray, self.executor)
        remote = ray.remote(CheckWorker).options(num_cpus=self.executor.num_cpus, max_restarts=0)
        cls, params = self.check_class, self.params
        return ActorBatches(ray, lambda: remote.remote(cls, params), lambda actor, batch:
                            actor.check_batch.remote(batch), self.actors, self.executor.max_retries)

    def map(self, check: Check, batches: Iterable[Any]) -> Iterator[tuple[Any, list[Verdict]]]:
        """(batch, its verdicts) in completion order; ``batch.items`` go to the actors. Batches whose actors kept
        dying are left out and counted in ``lost``."""
        pool = self._pool = self._pool or self._start()
        ray = pool.ray
        source = iter(batches)
        carried: dict[int, Any] = {}  # id(items list) -> the batch it came from
        while True:
            while pool.has_room() and (batch := next(source, None)) is not None:
                carried[id(batch.items)] = batch
                pool.submit(batch.items)
            refs = pool.in_flight()
            if not refs:
                break
            ready, _ = ray.wait(refs, num_returns=1)
            settled = pool.settle(ready[0])
            self.retried, self.lost = pool.retried, pool.lost
            if settled is None:
                continue
            items, verdicts = settled
            batch = carried.pop(id(items))
            if verdicts is not LOST:
                yield batch, verdicts

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
