"""Every scenario's recourse at a first stage, spread over an executor's lanes: the
decomposition's evaluation rounds (:class:`Evaluator`)."""

from __future__ import annotations

import time
from concurrent.futures import Future, wait

import numpy as np

from optimizer.evaluation.recourse import (
    Evaluation,
    FirstStage,
    Task,
    blocks_of,
    evaluate_task,
    forget,
)
from optimizer.executors import Executor, batch_size
from optimizer.instance.data import Instance
from optimizer.solvers.decomposition import tuning


class Evaluator:
    """Every scenario at a first stage, spread over an executor's lanes.

    Lane ``l`` owns a contiguous slice of the scenarios, cut into blocks of
    :data:`tuning.BLOCK_SIZE` (one recourse LP each) and sent in tasks of :func:`batch_size`
    scenarios; the same blocks always go to the same lane, where they stay warm.
    """

    def __init__(self, instance: Instance, executor: Executor) -> None:
        self.executor = executor
        self.shared = executor.share(instance)
        S = len(instance.scenarios)
        lanes = executor.lanes
        per_batch = batch_size(executor.kind, S, lanes)
        bounds = np.linspace(0, S, lanes + 1).round().astype(int)
        self.tasks: list[tuple[int, tuple[tuple[int, np.ndarray], ...]]] = []
        block_id = 0
        for lane in range(lanes):
            indices = np.arange(bounds[lane], bounds[lane + 1])
            for batch in blocks_of(indices, per_batch):
                blocks = []
                for block in blocks_of(batch, tuning.BLOCK_SIZE):
                    blocks.append((block_id, block))
                    block_id += 1
                self.tasks.append((lane, tuple(blocks)))
        self.seconds = 0.0
        self.rounds = 0
        self.first_seconds = 0.0  # the first round, which builds every scenario's LP

    def round_seconds(self) -> float:
        """Wall seconds an evaluation round takes, the mean of the warm ones so far (the
        first, which builds every LP, when there is no other)."""
        if self.rounds <= 1:
            return self.first_seconds
        return (self.seconds - self.first_seconds) / (self.rounds - 1)

    def __call__(self, first: FirstStage, detail: bool = False,
                 gradients: bool = False, coverage: bool = False) -> Evaluation:
        t0 = time.monotonic()

        def submit(lane: int, blocks: tuple[tuple[int, np.ndarray], ...]) -> Future:
            return self.executor.submit(lane, evaluate_task, self.shared,
                                        Task(blocks, first, detail, gradients, coverage))

        self.executor.repin_lost()
        pending = {submit(lane, blocks): (lane, blocks) for lane, blocks in self.tasks
                   if blocks}
        parts = []
        while pending:
            done, _ = wait(list(pending), timeout=tuning.WATCH_SECONDS)
            for future in done:
                parts.append(future.result())
                del pending[future]
            lost = self.executor.repin_lost() if pending else set()
            for future, (lane, blocks) in list(pending.items()):
                if lane in lost:  # its worker left: run it where the lane now lives
                    future.cancel()
                    del pending[future]
                    pending[submit(lane, blocks)] = (lane, blocks)
        self.seconds += time.monotonic() - t0
        self.rounds += 1
        if self.rounds == 1:
            self.first_seconds = self.seconds
        return Evaluation.concatenate(parts)

    def close(self) -> None:
        try:
            self.executor.on_every_lane(forget, self.shared.token)
        finally:
            self.executor.release(self.shared)
