"""The simulator's pure judgement of JSON_LISTINGS_FEED messages and whole feed documents."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketsync.amazon.simulator.config import SimulatorConfig, parse_rules
from marketsync.amazon.simulator.rules import (
    ASIN_CONFLICT,
    ASIN_NOT_FOUND,
    ASIN_RESTRICTED,
    FEED_UNPARSABLE,
    MESSAGE_INVALID,
    REQUIRED_MISSING,
    SKU_NOT_FOUND,
    SKU_REJECTED,
    TOO_FEW_VALUES,
    VALUE_INVALID,
    Delete,
    Listing,
    Put,
    Rules,
    evaluate_message,
    message_problems,
    normalise_price,
    process_feed,
)
from marketsync.settings import ConfigError

SPAPI = Path(__file__).resolve().parents[3] / ".." / "shared" / "spapi"
DE = "A1PA6795UKMFR9"
ASIN = "B08YRD1CNN"
EXISTING = {"SKU-1": Listing(sku="SKU-1", asin=ASIN, quantity=3, price="10.00", currency="EUR")}


def quantity_patch(sku: str, quantity: object, op: str = "replace", mid: int = 1) -> dict[str, Any]:
    value = [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]
    return {
        "messageId": mid,
        "sku": sku,
        "operationType": "PATCH",
        "productType": "PRODUCT",
        "patches": [{"op": op, "path": "/attributes/fulfillment_availability", "value": value}],
    }


def price_patch(sku: str, price: object, currency: str = "EUR", mid: int = 1) -> dict[str, Any]:
    offer = {
        "marketplace_id": DE,
        "currency": currency,
        "audience": "ALL",
        "our_price": [{"schedule": [{"value_with_tax": price}]}],
    }
    return {
        "messageId": mid,
        "sku": sku,
        "operationType": "PATCH",
        "productType": "PRODUCT",
        "patches": [{"op": "replace", "path": "/attributes/purchasable_offer", "value": [offer]}],
    }


def offer_update(sku: str, asin: str | None = ASIN, mid: int = 1) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "condition_type": [{"value": "new_new", "marketplace_id": DE}],
        "purchasable_offer": [
            {
                "marketplace_id": DE,
                "currency": "EUR",
                "our_price": [{"schedule": [{"value_with_tax": 24.9}]}],
            }
        ],
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 5}],
    }
    if asin is not None:
        attributes["merchant_suggested_asin"] = [{"value": asin, "marketplace_id": DE}]
    return {
        "messageId": mid,
        "sku": sku,
        "operationType": "UPDATE",
        "productType": "PRODUCT",
        "requirements": "LISTING_OFFER_ONLY",
        "attributes": attributes,
    }


def judge(message: dict[str, Any], rules: Rules | None = None) -> Any:
    return evaluate_message(message, DE, EXISTING, rules or Rules())


def only_issue_code(outcome: Any) -> str:
    assert len(outcome.issues) == 1 and outcome.change is None
    return str(outcome.issues[0].code)


# -- per message -------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["replace", "merge", "add"])
def test_quantity_patch_sets_quantity(op: str) -> None:
    """A fulfillment_availability PATCH (replace, merge or add) sets the DEFAULT quantity."""
    outcome = judge(quantity_patch("SKU-1", 42, op))
    assert outcome.accepted and outcome.change == Put(
        Listing(sku="SKU-1", asin=ASIN, quantity=42, price="10.00", currency="EUR")
    )


def test_price_patch_sets_normalised_price_and_currency() -> None:
    """A purchasable_offer PATCH stores the price as a two-place decimal string and the currency."""
    outcome = judge(price_patch("SKU-1", 19.9, currency="GBP"))
    assert isinstance(outcome.change, Put)
    assert (outcome.change.listing.price, outcome.change.listing.currency) == ("19.90", "GBP")


def test_patch_for_missing_sku_is_an_error() -> None:
    """A PATCH for a SKU without a listing in the marketplace gets an ERROR issue."""
    outcome = judge(quantity_patch("NOPE", 1))
    assert only_issue_code(outcome) == SKU_NOT_FOUND
    assert outcome.issues[0].to_json()["messageId"] == 1


def test_patch_for_missing_sku_creates_incomplete_listing_when_allowed() -> None:
    """With patch_requires_listing = false a PATCH creates an (inactive) listing without ASIN."""
    outcome = judge(quantity_patch("NEW", 4), Rules(patch_requires_listing=False))
    assert isinstance(outcome.change, Put)
    assert outcome.change.listing.asin is None and outcome.change.listing.status == "INACTIVE"


@pytest.mark.parametrize("quantity", [-1, 1_000_001, 2.5, "7", True])
def test_out_of_range_quantity_is_an_error(quantity: object) -> None:
    """A quantity that is not a whole number from 0 to max_quantity is rejected."""
    assert only_issue_code(judge(quantity_patch("SKU-1", quantity))) == VALUE_INVALID


@pytest.mark.parametrize("price", [0.001, 100000.01, "abc", None])
def test_out_of_range_price_is_an_error(price: object) -> None:
    """A price below min_price, above max_price or not a number is rejected."""
    assert only_issue_code(judge(price_patch("SKU-1", price))) == VALUE_INVALID


def test_price_limits_are_configurable() -> None:
    """max_price from the rules table applies."""
    rules = Rules(max_price=Decimal("50"))
    assert only_issue_code(judge(price_patch("SKU-1", 50.01), rules)) == VALUE_INVALID
    assert judge(price_patch("SKU-1", 50), rules).accepted


def test_empty_our_price_is_too_few_values() -> None:
    """An offer without a price schedule gets Amazon's 'not enough values' issue."""
    message = price_patch("SKU-1", 1)
    message["patches"][0]["value"][0]["our_price"] = []
    assert only_issue_code(judge(message)) == TOO_FEW_VALUES


def test_offer_only_update_creates_listing_on_existing_asin() -> None:
    """UPDATE with LISTING_OFFER_ONLY creates an offer with price and quantity on the ASIN."""
    outcome = judge(offer_update("NEW-SKU"))
    assert outcome.change == Put(
        Listing(sku="NEW-SKU", asin=ASIN, quantity=5, price="24.90", currency="EUR")
    )


@pytest.mark.parametrize(
    ("rules", "asin", "code"),
    [
        (Rules(), "X123", ASIN_NOT_FOUND),
        (Rules(unknown_asins=frozenset({ASIN})), ASIN, ASIN_NOT_FOUND),
        (Rules(restricted_asins=frozenset({ASIN})), ASIN, ASIN_RESTRICTED),
        (Rules(), None, REQUIRED_MISSING),
    ],
)
def test_offer_only_update_checks_the_asin(rules: Rules, asin: str | None, code: str) -> None:
    """Unknown, restricted or missing ASINs on an offer-only UPDATE are rejected."""
    assert only_issue_code(judge(offer_update("NEW-SKU", asin), rules)) == code


def test_update_cannot_move_a_sku_to_another_asin() -> None:
    """An UPDATE naming a different ASIN than the SKU's listing conflicts."""
    assert only_issue_code(judge(offer_update("SKU-1", "B000000001"))) == ASIN_CONFLICT


def test_restricted_asin_blocks_patches_too() -> None:
    """A PATCH on a listing whose ASIN is restricted is rejected."""
    rules = Rules(restricted_asins=frozenset({ASIN}))
    assert only_issue_code(judge(quantity_patch("SKU-1", 1), rules)) == ASIN_RESTRICTED


def test_delete_removes_listing_and_unknown_sku_is_an_error() -> None:
    """DELETE removes an existing listing; DELETE of an unknown SKU is an ERROR."""
    message = {"messageId": 1, "sku": "SKU-1", "operationType": "DELETE"}
    assert judge(message).change == Delete("SKU-1")
    assert only_issue_code(judge({**message, "sku": "NOPE"})) == SKU_NOT_FOUND


def test_reject_skus_rejects_every_message() -> None:
    """A SKU listed in reject_skus gets a generic ERROR whatever the message."""
    rules = Rules(reject_skus=frozenset({"SKU-1"}))
    assert only_issue_code(judge(quantity_patch("SKU-1", 1), rules)) == SKU_REJECTED


def test_other_attributes_are_accepted_without_change() -> None:
    """Patches of attributes the simulator does not model are accepted and change nothing."""
    message = quantity_patch("SKU-1", 1)
    message["patches"][0]["path"] = "/attributes/item_name"
    assert judge(message).change == Put(EXISTING["SKU-1"])


def test_nested_patch_path_is_an_error() -> None:
    """Only top-level attributes can be patched."""
    message = quantity_patch("SKU-1", 1)
    message["patches"][0]["path"] = "/attributes/fulfillment_availability/0/quantity"
    assert only_issue_code(judge(message)) == MESSAGE_INVALID


def test_normalise_price_rounds_half_up() -> None:
    """Prices are stored with exactly two decimal places."""
    assert [normalise_price(v) for v in (19.99, 5, "3.005", Decimal("1.1"))] == [
        "19.99",
        "5.00",
        "3.01",
        "1.10",
    ]


# -- whole feeds -------------------------------------------------------------------------------


def feed(*messages: dict[str, Any]) -> bytes:
    document = {"header": {"sellerId": "A1SELLER", "version": "2.0"}, "messages": list(messages)}
    return json.dumps(document).encode("utf-8")


def run(content: bytes, listings: dict[str, Listing] | None = None) -> Any:
    return process_feed(
        content,
        seller_id="A1SELLER",
        feed_id="123",
        marketplace_id=DE,
        listings=EXISTING if listings is None else listings,
        rules=Rules(),
    )


def test_feed_applies_messages_in_message_id_order() -> None:
    """Messages are applied by messageId, not document order; later ones see earlier effects."""
    result = run(feed(quantity_patch("SKU-1", 9, mid=2), quantity_patch("SKU-1", 1, mid=1)))
    assert result.listings["SKU-1"].quantity == 9
    assert result.report["summary"] == {
        "errors": 0,
        "warnings": 0,
        "messagesProcessed": 2,
        "messagesAccepted": 2,
        "messagesInvalid": 0,
    }


def test_feed_counts_invalid_messages_and_keeps_going() -> None:
    """One bad message does not stop the others; the summary counts each."""
    bad = {"messageId": 3, "sku": "SKU-1", "operationType": "PATCH"}
    result = run(feed(quantity_patch("SKU-1", 2), quantity_patch("NOPE", 1, mid=2), bad))
    codes = [(i["messageId"], i["code"]) for i in result.report["issues"]]
    assert codes == [(2, SKU_NOT_FOUND), (3, MESSAGE_INVALID)]
    assert result.report["summary"]["messagesAccepted"] == 1
    assert result.report["summary"]["messagesInvalid"] == 2
    assert result.changed == frozenset({"SKU-1"})


def test_duplicate_message_id_is_invalid() -> None:
    """A second message with the same messageId is rejected."""
    result = run(feed(quantity_patch("SKU-1", 2), quantity_patch("SKU-1", 5)))
    assert result.listings["SKU-1"].quantity == 2
    assert [i["code"] for i in result.report["issues"]] == [MESSAGE_INVALID]


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[]", b'{"header": {"sellerId": "A", "version": "1.0"}, "messages": [{}]}',
     b'{"header": {"sellerId": "A", "version": "2.0"}, "messages": []}', b"\xff\xfe"],
)  # fmt: skip
def test_unreadable_document_is_one_feed_level_issue(content: bytes) -> None:
    """A document that cannot be parsed yields one issue without messageId and no messages."""
    result = run(content)
    assert [i.get("messageId") for i in result.report["issues"]] == [None]
    assert result.report["issues"][0]["code"] == FEED_UNPARSABLE
    assert result.report["summary"]["messagesProcessed"] == 0
    assert result.report["summary"]["messagesInvalid"] == 0
    assert result.changed == frozenset()


# -- agreement with Amazon's schemas -------------------------------------------------------------


def amazon_schema(name: str) -> dict[str, Any]:
    path = SPAPI / "schemas" / "feeds" / name
    if not path.exists():
        pytest.skip(f"Amazon's schema {path} is not available")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def test_reports_validate_against_amazons_processing_report_schema() -> None:
    """Every kind of report the rules produce validates against Amazon's report schema."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = amazon_schema("listings-feed-processing-report-schema-v2.json")
    bad = {"messageId": 9, "operationType": "PATCH"}
    for content in (feed(quantity_patch("SKU-1", 2), offer_update("X", "nope", 2), bad), b"{"):
        jsonschema.validate(run(content).report, schema)


DROP = object()
values = st.one_of(
    st.just(DROP), st.none(), st.booleans(), st.integers(-1, 2), st.just(2_147_483_648),
    st.just(""), st.just("x"),
    st.sampled_from(["UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE", "LISTING_OFFER_ONLY", "LIST"]),
    st.just({}), st.just({"a": 1}), st.just([]),
    st.lists(st.fixed_dictionaries({"op": st.sampled_from(["replace", "delete", "move"]),
                                    "path": st.sampled_from(["/attributes/x", 1])},
                                   optional={"value": st.sampled_from([[], [{}], [1], {}])}),
             max_size=2),
)  # fmt: skip
KEYS = ["messageId", "sku", "operationType", "productType", "requirements", "attributes", "patches"]
VALID_MESSAGES = [
    quantity_patch("SKU-1", 1),
    price_patch("SKU-1", 2),
    offer_update("SKU-1"),
    {"messageId": 1, "sku": "SKU-1", "operationType": "DELETE"},
    {"messageId": 1, "sku": "S", "operationType": "PARTIAL_UPDATE", "productType": "P",
     "attributes": {"item_name": [{"value": "x"}]}},
]  # fmt: skip


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    """Amazon-valid messages with up to two fields dropped, added or changed."""
    message = dict(draw(st.sampled_from(VALID_MESSAGES)))
    for key, value in draw(st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=2)):
        if value is DROP:
            message.pop(key, None)
        else:
            message[key] = value
    return message


@settings(max_examples=400, deadline=None)
@given(message=messages())
def test_message_check_agrees_with_amazons_message_schema(message: dict[str, Any]) -> None:
    """The simulator's own message check accepts exactly what Amazon's feed schema accepts."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = amazon_schema("listings-feed-schema-v2.json")["properties"]["messages"]["items"]
    valid = jsonschema.Draft7Validator(schema).is_valid(message)
    assert (message_problems(message) == []) == valid


# -- the rules table -----------------------------------------------------------------------------


def test_rules_table_is_parsed_with_defaults() -> None:
    """[simulator.rules] values override the defaults; the rest keep them."""
    rules = parse_rules({"max_price": 500, "restricted_asins": [ASIN]})
    assert rules.max_price == Decimal("500.00") and rules.min_price == Decimal("0.01")
    assert rules.restricted_asins == frozenset({ASIN}) and rules.patch_requires_listing


@pytest.mark.parametrize(
    "raw",
    [{"max_prize": 1}, {"max_quantity": -1}, {"reject_skus": "A"}, {"patch_requires_listing": 1}],
)
def test_bad_rules_table_is_a_config_error(raw: dict[str, Any]) -> None:
    """Unknown keys and wrong types in [simulator.rules] are a clear ConfigError."""
    with pytest.raises(ConfigError, match=r"\[simulator.rules\]"):
        parse_rules(raw)


def test_unknown_simulator_key_is_a_config_error() -> None:
    """An unknown key in [simulator] names itself in the ConfigError."""
    with pytest.raises(ConfigError, match="time_scael"):
        SimulatorConfig.from_mapping({"time_scael": 2}, ())
