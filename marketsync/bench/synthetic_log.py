"""A large event log, written the way the batcher writes it but without the broker.

:func:`write` records ``count`` storefront changes, each to a SKU of its own (spread over
the bench accounts), through :meth:`EventStore.write` and :meth:`WriteTx.record` in big
transactions: the same fold, the same tables, so the result is a log of ``count`` events and
``count`` SKUs pending. Replay reads it; the memory figure runs the batcher on top of it.
Every SKU is new by construction, so the transaction is told so (:meth:`SqlStates.remember`
with a fresh state) instead of looking each one up.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from marketsync.bench.workload import ACCOUNTS, Account
from marketsync.domain.events import ChangeRecorded
from marketsync.domain.sku import new_sku
from marketsync.eventlog.store import EventStore

BATCH = 20_000
PREFIX = "LOG"


@dataclass(frozen=True, slots=True)
class Written:
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def sku_name(number: int) -> str:
    return f"{PREFIX}-{number:07d}"


def _change(i: int, accounts: Sequence[Account], at: float, occurred: str) -> ChangeRecorded:
    account = accounts[i % len(accounts)]
    return ChangeRecorded(
        at=at,
        account=account.name,
        marketplace=account.marketplace,
        sku=sku_name(i // len(accounts)),
        version=1,
        quantity=i % 500,
        price=f"{1 + i % 400}.99",
        currency=account.currency,
        occurred_at=occurred,
    )


def write(
    store: EventStore, count: int, accounts: Sequence[Account] = ACCOUNTS, batch: int = BATCH
) -> Written:
    """Record ``count`` changes to ``count`` distinct SKUs, ``batch`` to a transaction."""
    started = time.monotonic()
    occurred = datetime.now(UTC).isoformat()
    for start in range(0, count, batch):
        now = time.time()
        events = [
            _change(i, accounts, now, occurred) for i in range(start, min(count, start + batch))
        ]
        with store.write() as tx:
            tx.states.remember(new_sku(e.account, e.marketplace, e.sku) for e in events)
            for event in events:
                tx.record(event, metadata={"source": "bench"})
    return Written(count, time.monotonic() - started)
