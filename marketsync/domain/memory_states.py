"""The :class:`~marketsync.domain.fold.States` port over plain dictionaries.

Used by the auditor's replay (fast: the whole rebuild happens in memory, then is written out
once) and by unit tests.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Self

from marketsync.domain.fold import SkuKey
from marketsync.domain.jobs import JobState
from marketsync.domain.sku import SkuState, new_sku


class MemoryStates:
    def __init__(self) -> None:
        self.skus: dict[SkuKey, SkuState] = {}
        self.jobs: dict[int, JobState] = {}
        self._members: dict[int, set[SkuKey]] = {}

    def sku(self, key: SkuKey) -> SkuState:
        return self.skus.get(key) or new_sku(*key)

    def prefetch(self, keys: Iterable[SkuKey]) -> None:
        return None

    def skus_in_job(self, job_id: int) -> list[SkuState]:
        return [self.skus[k] for k in sorted(self._members.get(job_id, ()))]

    def put_sku(self, state: SkuState) -> None:
        self._put_sku(state.key, state)

    def _put_sku(self, key: SkuKey, state: SkuState) -> None:
        previous = self.skus.get(key)
        if previous is not None and previous.job_id is not None:
            self._members.get(previous.job_id, set()).discard(key)
        if state.job_id is not None:
            self._members.setdefault(state.job_id, set()).add(key)
        self.skus[key] = state

    def copy(self) -> Self:
        """An independent copy (the states themselves are immutable and shared)."""
        clone = copy.copy(self)
        clone.skus = dict(self.skus)
        clone.jobs = dict(self.jobs)
        clone._members = {job_id: set(keys) for job_id, keys in self._members.items()}
        return clone

    def job(self, job_id: int) -> JobState | None:
        return self.jobs.get(job_id)

    def put_job(self, state: JobState) -> None:
        self.jobs[state.job_id] = state
