"""A storefront for the job tests: builds contract v1 events with rising versions per SKU,
and the checks every job test shares (feed documents against Amazon's schema, the jobs a
run reserved)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from marketsync import demo
from marketsync.domain.events import JobCreated, JobReserved
from marketsync.schemas.storefront import (
    Money,
    ProductChanged,
    ProductListed,
    ProductRemoved,
    ProductStopped,
)
from tests.integration.pipeline.harness import Run

REPO = Path(__file__).resolve().parents[3]
FEED_SCHEMA = (
    REPO.parent / "shared" / "spapi" / "schemas" / "feeds" / "listings-feed-schema-v2.json"
)

US = demo.ACCOUNTS[0]  # ("demo-us", "A1DEMOSELLERUS", "ATVPDKIKX0DER", "USD")
DE = demo.ACCOUNTS[1]

# Fast enough for tests, Amazon-shaped otherwise (see demo.run_settings).
FAST_PIPELINE = {
    "gathering_window": 0.5,
    "max_age": 2.0,
    "poll_interval": 0.3,
    "retry_base": 3600.0,
}


@dataclass
class Shop:
    """One storefront account: each event it makes has the next version of its SKU."""

    account: tuple[str, str, str, str] = US
    versions: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.account[0]

    @property
    def seller(self) -> str:
        return self.account[1]

    @property
    def marketplace(self) -> str:
        return self.account[2]

    @property
    def currency(self) -> str:
        return self.account[3]

    def _version(self, sku: str) -> int:
        self.versions[sku] = self.versions.get(sku, 0) + 1
        return self.versions[sku]

    def _money(self, price: str) -> Money:
        return Money(amount=Decimal(price), currency=self.currency)

    def changed(
        self, sku: str, quantity: int | None = None, price: str | None = None
    ) -> ProductChanged:
        return ProductChanged(
            account=self.name,
            marketplace_id=self.marketplace,
            sku=sku,
            version=self._version(sku),
            quantity=quantity,
            price=None if price is None else self._money(price),
        )

    def listed(self, sku: str, asin: str, quantity: int, price: str) -> ProductListed:
        return ProductListed(
            account=self.name,
            marketplace_id=self.marketplace,
            sku=sku,
            version=self._version(sku),
            asin=asin,
            quantity=quantity,
            price=self._money(price),
        )

    def stopped(self, sku: str) -> ProductStopped:
        return ProductStopped(
            account=self.name, marketplace_id=self.marketplace, sku=sku, version=self._version(sku)
        )

    def removed(self, sku: str) -> ProductRemoved:
        return ProductRemoved(
            account=self.name, marketplace_id=self.marketplace, sku=sku, version=self._version(sku)
        )

    def seed(self, sku: str, quantity: int = 1, price: str = "1.00") -> dict[str, Any]:
        """A listing as it stands in Seller Central before the run."""
        return {
            "seller_id": self.seller,
            "marketplace_id": self.marketplace,
            "sku": sku,
            "quantity": quantity,
            "price": price,
            "currency": self.currency,
        }


# --- what every job test checks --------------------------------------------------------------


@cache
def feed_schema() -> dict[str, Any]:
    if not FEED_SCHEMA.exists():
        pytest.skip(f"Amazon's listings feed schema is not at {FEED_SCHEMA}")
    return dict(json.loads(FEED_SCHEMA.read_text(encoding="utf-8")))


def schema_problems(document: str) -> list[str]:
    from jsonschema import Draft7Validator

    validator = Draft7Validator(feed_schema())
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(json.loads(document))
    ]


def documents(run: Run) -> dict[int, dict[str, Any]]:
    """Each job's feed document (from its JobCreated event), parsed."""
    return {
        e.job_id: json.loads(e.document)
        for e in run.events("JobCreated")
        if isinstance(e, JobCreated)
    }


def assert_documents_valid(run: Run) -> int:
    """Every document the run built validates against Amazon's schema; how many there were."""
    created = [e for e in run.events("JobCreated") if isinstance(e, JobCreated)]
    problems = {e.job_id: schema_problems(e.document) for e in created}
    assert not any(problems.values()), {j: p for j, p in problems.items() if p}
    return len(created)


def reserved(run: Run) -> list[JobReserved]:
    return [e for e in run.events("JobReserved") if isinstance(e, JobReserved)]


def messages_of(run: Run, job_id: int) -> dict[str, dict[str, Any]]:
    """The job's feed messages by SKU."""
    return {m["sku"]: m for m in documents(run)[job_id]["messages"]}


def patched(message: dict[str, Any]) -> dict[str, Any]:
    """What a PATCH message sets: ``{"quantity": n, "price": "x.yy"}`` (only what it has)."""
    values: dict[str, Any] = {}
    for patch in message.get("patches", []):
        name = patch["path"].removeprefix("/attributes/")
        if name == "fulfillment_availability":
            values["quantity"] = patch["value"][0]["quantity"]
        elif name == "purchasable_offer":
            amount = patch["value"][0]["our_price"][0]["schedule"][0]["value_with_tax"]
            values["price"] = f"{Decimal(str(amount)):.2f}"
    return values
