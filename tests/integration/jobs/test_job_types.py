"""Each product job type end to end: RabbitMQ, the log, the simulator over HTTP.

send-products, update-qty, update-price, update-qty-price, stop and stop-remove, from
storefront events and from the operator's commands; every feed document validates against
Amazon's listings feed schema.
"""

from __future__ import annotations

import time

import pytest

from marketsync import operations
from marketsync.domain.events import JobReserved
from marketsync.domain.jobs import JobState
from marketsync.domain.sku import SkuState
from marketsync.projections import views
from tests.integration.jobs.shop import (
    US,
    Shop,
    assert_documents_valid,
    messages_of,
    patched,
    reserved,
)
from tests.integration.pipeline.harness import Run, pipeline

pytestmark = pytest.mark.integration

ASIN = "B0TESTAS01"


def job_views(run: Run) -> list[JobState]:
    with run.store.read() as connection:
        return sorted(
            views.list_jobs(connection, views.JobFilter(limit=1000)), key=lambda j: j.job_id
        )


def listing_view(run: Run, sku: str) -> SkuState:
    with run.store.read() as connection:
        found = {s.sku: s for s in views.listings(connection, US[0])}
    return found[sku]


def new_jobs(run: Run, seen: int) -> list[JobReserved]:
    """Jobs reserved after the first ``seen`` ones."""
    return reserved(run)[seen:]


def test_send_products_offers_the_sku_on_its_asin(amqp_url: str, database_url: str) -> None:
    """product.listed with an ASIN is a send-products job (offer-only UPDATE): Amazon then
    sells the SKU on that ASIN at the quantity and price, and the listings view says so."""
    shop = Shop()
    with pipeline(amqp_url, database_url, accounts=(US,)) as run:
        listed = shop.listed("NEW-1", ASIN, quantity=7, price="19.99")
        run.publish(listed)
        run.wait_settled(listed)

        [job] = reserved(run)
        assert job.job_type == "send-products"
        assert [(i.sku, i.action, i.asin) for i in job.items] == [("NEW-1", "list", ASIN)]
        message = messages_of(run, job.job_id)["NEW-1"]
        assert message["operationType"] == "UPDATE"
        assert message["requirements"] == "LISTING_OFFER_ONLY"
        assert [j.status.value for j in job_views(run)] == ["done"]

        amazon = run.listings(shop.seller)["NEW-1"]
        assert (amazon["asin"], amazon["quantity"], amazon["price"]) == (ASIN, 7, "19.99")
        assert amazon["status"] == "ACTIVE"
        view = listing_view(run, "NEW-1")
        assert (view.asin, view.acked_quantity, view.acked_price) == (ASIN, 7, "19.99")
        assert view.linked_since is not None and view.linked_since <= time.time()
        assert view.selling_state == "active" and view.state == "synced"
        assert assert_documents_valid(run) == 1


def test_update_job_types_follow_what_the_feed_carries(amqp_url: str, database_url: str) -> None:
    """Quantity-only changes make update-qty, price-only update-price, both update-qty-price;
    each PATCHes exactly those attributes and Amazon ends at the newest values."""
    shop = Shop()
    skus = ["UPD-1", "UPD-2"]
    seeds = [shop.seed(s, quantity=1, price="1.00") for s in skus]
    steps = [
        ("update-qty", {"quantity": 5}, {"quantity": 5, "price": "1.00"}),
        ("update-price", {"price": "2.50"}, {"quantity": 5, "price": "2.50"}),
        ("update-qty-price", {"quantity": 9, "price": "3.75"}, {"quantity": 9, "price": "3.75"}),
    ]
    with pipeline(amqp_url, database_url, accounts=(US,), listings=seeds) as run:
        for n, (job_type, change, amazon_has) in enumerate(steps):
            events = [shop.changed(sku, **change) for sku in skus]  # type: ignore[arg-type]
            run.publish(*events)
            run.wait_settled(*events)

            [job] = new_jobs(run, n)
            assert job.job_type == job_type
            messages = messages_of(run, job.job_id)
            assert sorted(messages) == skus
            for message in messages.values():
                assert message["operationType"] == "PATCH"
                assert patched(message) == change
            listings = run.listings(shop.seller)
            for sku in skus:
                have = {k: listings[sku][k] for k in ("quantity", "price")}
                assert have == amazon_has, (job_type, sku)
        assert [j.status.value for j in job_views(run)] == ["done"] * 3
        assert assert_documents_valid(run) == 3


@pytest.mark.slow
def test_stop_sends_zero_and_holds_later_changes_until_listed_again(
    amqp_url: str, database_url: str
) -> None:
    """product.stopped is a stop job sending quantity 0; a later change is recorded but not
    sent (no job carries it, Amazon keeps 0) until product.listed, which sends the newest."""
    shop = Shop()
    with pipeline(amqp_url, database_url, accounts=(US,)) as run:
        listed = shop.listed("STOP-1", ASIN, quantity=5, price="10.00")
        run.publish(listed)
        run.wait_settled(listed)

        stopped = shop.stopped("STOP-1")
        run.publish(stopped)
        run.wait_settled(stopped)
        [stop] = new_jobs(run, 1)
        assert stop.job_type == "stop"
        assert patched(messages_of(run, stop.job_id)["STOP-1"]) == {"quantity": 0}
        amazon = run.listings(shop.seller)["STOP-1"]
        assert (amazon["quantity"], amazon["price"]) == (0, "10.00")
        assert listing_view(run, "STOP-1").selling_state == "stopped"

        later = shop.changed("STOP-1", quantity=8, price="11.00")
        run.publish(later)
        run.wait_settled(later)
        time.sleep(3 * run.settings.pipeline.gathering_window)  # a job would have formed
        assert new_jobs(run, 2) == [], "a change to a stopped SKU was sent"
        view = listing_view(run, "STOP-1")
        assert (view.quantity, view.price) == (8, "11.00"), "the change was not recorded"
        assert view.state == "synced" and view.selling_state == "stopped"
        amazon = run.listings(shop.seller)["STOP-1"]
        assert (amazon["quantity"], amazon["price"]) == (0, "10.00")

        relisted = shop.listed("STOP-1", ASIN, quantity=9, price="12.00")
        run.publish(relisted)
        run.wait_settled(relisted)
        [relist] = new_jobs(run, 2)
        assert relist.job_type == "send-products"
        [item] = relist.items
        assert (item.quantity, item.price) == (9, "12.00")
        amazon = run.listings(shop.seller)["STOP-1"]
        assert (amazon["quantity"], amazon["price"], amazon["status"]) == (9, "12.00", "ACTIVE")
        assert listing_view(run, "STOP-1").selling_state == "active"
        assert [j.status.value for j in job_views(run)] == ["done"] * 3
        assert assert_documents_valid(run) == 3


def test_remove_sends_zero_then_deletes_the_listing(amqp_url: str, database_url: str) -> None:
    """product.removed is two stop-remove jobs: quantity 0 (PATCH), then DELETE; Amazon has
    no listing left and the listings view says removed."""
    shop = Shop()
    seeds = [shop.seed("GONE-1", quantity=3, price="5.00")]
    with pipeline(amqp_url, database_url, accounts=(US,), listings=seeds) as run:
        changed = shop.changed("GONE-1", quantity=4)
        run.publish(changed)
        run.wait_settled(changed)

        removed = shop.removed("GONE-1")
        run.publish(removed)
        run.wait_settled(removed)
        zero, delete = new_jobs(run, 1)
        assert (zero.job_type, delete.job_type) == ("stop-remove", "stop-remove")
        assert patched(messages_of(run, zero.job_id)["GONE-1"]) == {"quantity": 0}
        assert messages_of(run, delete.job_id)["GONE-1"]["operationType"] == "DELETE"
        assert "GONE-1" not in run.listings(shop.seller)
        assert listing_view(run, "GONE-1").selling_state == "removed"
        assert [j.status.value for j in job_views(run)] == ["done"] * 3
        assert assert_documents_valid(run) == 3


@pytest.mark.slow
def test_operator_commands_behave_like_storefront_events(amqp_url: str, database_url: str) -> None:
    """products stop / relist / remove and sync (operations.*) make the same jobs as the
    storefront's events: stop sends 0 and holds changes, relist sends the newest values,
    sync sends current values again, remove zeroes then deletes."""
    shop = Shop()
    account = shop.name
    with pipeline(amqp_url, database_url, accounts=(US,)) as run:
        listed = shop.listed("OPS-1", ASIN, quantity=5, price="10.00")
        run.publish(listed)
        run.wait_settled(listed)

        operations.set_selling_status(run.store, run.settings, account, "OPS-1", "stopped")
        run.wait_settled()
        [stop] = new_jobs(run, 1)
        assert stop.job_type == "stop"
        assert run.listings(shop.seller)["OPS-1"]["quantity"] == 0

        later = shop.changed("OPS-1", quantity=4, price="9.00")
        run.publish(later)
        run.wait_settled(later)
        time.sleep(3 * run.settings.pipeline.gathering_window)
        assert new_jobs(run, 2) == [], "a change to a stopped SKU was sent"

        operations.set_selling_status(run.store, run.settings, account, "OPS-1", "active")
        run.wait_settled()
        [relist] = new_jobs(run, 2)
        assert relist.job_type == "send-products"
        amazon = run.listings(shop.seller)["OPS-1"]
        assert (amazon["quantity"], amazon["price"], amazon["status"]) == (4, "9.00", "ACTIVE")

        run.put_listing(shop.seller, "OPS-1", marketplace_id=shop.marketplace, quantity=99)
        assert operations.request_resend(run.store, run.settings, account, "OPS-1") == 1
        run.wait_settled()
        [resend] = new_jobs(run, 3)
        assert resend.job_type == "send-products"
        amazon = run.listings(shop.seller)["OPS-1"]
        assert (amazon["quantity"], amazon["price"]) == (4, "9.00")

        operations.set_selling_status(run.store, run.settings, account, "OPS-1", "removed")
        run.wait_settled()
        zero, delete = new_jobs(run, 4)
        assert (zero.job_type, delete.job_type) == ("stop-remove", "stop-remove")
        assert "OPS-1" not in run.listings(shop.seller)
        assert listing_view(run, "OPS-1").selling_state == "removed"
        assert [j.status.value for j in job_views(run)] == ["done"] * 6
        assert assert_documents_valid(run) == 6


def test_sync_sends_an_update_sku_again(amqp_url: str, database_url: str) -> None:
    """sync on a SKU that was only ever updated (no ASIN) resends its quantity and price as
    an update-qty-price job, restoring what someone changed in Seller Central."""
    shop = Shop()
    seeds = [shop.seed("SYNC-1", quantity=1, price="1.00")]
    with pipeline(amqp_url, database_url, accounts=(US,), listings=seeds) as run:
        changed = shop.changed("SYNC-1", quantity=6, price="7.00")
        run.publish(changed)
        run.wait_settled(changed)
        run.put_listing(shop.seller, "SYNC-1", marketplace_id=shop.marketplace, quantity=0)

        assert operations.request_resend(run.store, run.settings, shop.name) == 1
        run.wait_settled()
        [resend] = new_jobs(run, 1)
        assert resend.job_type == "update-qty-price"
        amazon = run.listings(shop.seller)["SYNC-1"]
        assert (amazon["quantity"], amazon["price"]) == (6, "7.00")
        assert assert_documents_valid(run) == 2
