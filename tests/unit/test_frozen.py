"""quick_init gives a frozen dataclass the same constructor, only cheaper: the same
parameters, defaults and default factories, the same errors, and instances as frozen as
before. A class it could not serve exactly is refused when it is defined."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from marketsync import jsoncodec
from marketsync.domain import events
from marketsync.frozen import from_mapping, quick_init
from marketsync.schemas import storefront

SERVED = [
    *events.EVENT_TYPES.values(),
    events.JobItem,
    events.ItemRejection,
    *storefront.EVENT_TYPES.values(),
    storefront.Money,
    storefront.ShippedItem,
]


def _record() -> type[Any]:
    """A fresh class of one definition: as dataclasses makes it, or then through quick_init."""

    @dataclass(frozen=True, kw_only=True, slots=True)
    class Record:
        number: int
        text: str = "default"
        items: list[int] = field(default_factory=list)

    return Record


Generated = _record()
Quick = quick_init(_record())


@quick_init
@dataclass(frozen=True, slots=True)
class Positional:
    first: int
    second: str = "two"
    third: float = field(default=3.0, kw_only=True)


def _parameters(cls: type) -> list[tuple[str, object, object]]:
    """Each __init__ parameter's name, kind, and default (a factory's shows as one)."""
    shown = []
    for p in inspect.signature(cls.__init__).parameters.values():
        default = p.default
        if p.name != "self" and cls.__dataclass_fields__[p.name].default_factory is not (
            dataclasses.MISSING
        ):
            default = "factory"
        shown.append((p.name, p.kind, default))
    return shown


@pytest.mark.parametrize("cls", SERVED, ids=lambda c: c.__name__)
def test_every_record_on_the_hot_path_is_served_with_its_own_parameters(cls: type) -> None:
    # quick_init's: a slot setter per field, none of dataclasses' object.__setattr__ calls
    names = cls.__init__.__code__.co_names
    assert "__dataclass_builtins_object__" not in names
    assert {f"_set_{f.name}" for f in dataclasses.fields(cls)} <= set(names)
    expected = [("self", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty)]
    for f in dataclasses.fields(cls):
        kind = (
            inspect.Parameter.KEYWORD_ONLY if f.kw_only else inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        if f.default is not dataclasses.MISSING:
            default: object = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = "factory"
        else:
            default = inspect.Parameter.empty
        expected.append((f.name, kind, default))
    assert sorted(_parameters(cls), key=lambda p: p[1]) == sorted(expected, key=lambda p: p[1])


def test_the_same_parameters_defaults_and_factories_as_the_generated_init() -> None:
    assert _parameters(Quick) == _parameters(Generated)
    one, two = Quick(number=1), Quick(number=1)
    assert (one.number, one.text, one.items) == (1, "default", [])
    assert one.items is not two.items  # a fresh value from the factory each time
    given = [5]
    assert Quick(number=2, text="t", items=given).items is given
    assert Positional(1) == Positional(first=1, second="two", third=3.0)
    assert Positional(1, "b", third=4.5).third == 4.5


def test_the_same_errors_for_a_wrong_call() -> None:
    for cls in (Quick, Generated):
        with pytest.raises(TypeError, match="number"):
            cls()
        with pytest.raises(TypeError, match="unexpected keyword argument 'other'"):
            cls(number=1, other=2)
        with pytest.raises(TypeError, match="positional"):
            cls(1)


def test_instances_stay_frozen_and_equal_to_what_replace_builds() -> None:
    quick = Quick(number=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.number = 2
    assert dataclasses.replace(quick, text="x") == Quick(number=1, text="x")
    change = storefront.ProductChanged(
        account="acme",
        marketplace_id="ATVPDKIKX0DER",
        sku="SKU-1",
        version=3,
        price=storefront.Money(Decimal("1.50"), "USD"),
    )
    assert change.occurred_at.tzinfo is UTC and change.occurred_at <= datetime.now(UTC)
    assert len(change.id) == 36 and change.schema_version == storefront.SCHEMA_VERSION
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.price = None  # type: ignore[misc]
    recorded = events.ChangeRecorded.from_data(
        {"at": 1.0, "account": "a", "marketplace": "m", "sku": "s", "version": 1}
    )
    assert recorded == events.ChangeRecorded(
        at=1.0, account="a", marketplace="m", sku="s", version=1
    )


def test_a_class_it_could_not_serve_exactly_is_refused_when_defined() -> None:
    @dataclass(kw_only=True, slots=True)
    class NotFrozen:
        number: int

    @dataclass(frozen=True, kw_only=True)
    class NoSlots:
        number: int

    @dataclass(frozen=True, kw_only=True, slots=True)
    class AfterInit:
        number: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, kw_only=True, slots=True)
    class WithInitVar:
        number: int
        scale: InitVar[int] = 1

    @dataclass(frozen=True, kw_only=True, slots=True)
    class LeftOut:
        number: int
        derived: int = field(default=0, init=False)

    for cls, why in (
        (NotFrozen, "frozen dataclasses only"),
        (NoSlots, "slotted dataclasses only"),
        (AfterInit, "__post_init__"),
        (WithInitVar, "the same parameters"),
        (LeftOut, "every field in __init__"),
    ):
        with pytest.raises(TypeError, match=why):
            quick_init(cls)


# --- from_mapping: cls(**mapping), without the keyword call -----------------------------

FromMapping = from_mapping(Quick)


def _decoded(mapping: dict[str, Any]) -> dict[str, Any]:
    """``mapping`` with keys that are not the interned parameter names, as JSON gives them."""
    decoded: dict[str, Any] = jsoncodec.loads(jsoncodec.dumps(mapping))
    return decoded


def test_from_mapping_builds_what_the_keyword_call_builds() -> None:
    whole = _decoded({"number": 1, "text": "t", "items": [2]})
    assert FromMapping(whole) == Quick(**whole)
    assert FromMapping(whole).items is whole["items"]
    short = _decoded({"number": 1})  # a field missing: its default, a fresh factory value
    one, two = FromMapping(short), FromMapping(short)
    assert one == Quick(number=1) and one.items is not two.items
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.number = 2  # type: ignore[misc]


def test_from_mapping_raises_what_the_keyword_call_raises() -> None:
    wrong = [
        {"number": 1, "other": 2},  # a key that is no field
        {"number": 1, "text": "t", "other": 2},  # one in a field's place: as many keys
        {"text": "t"},  # a field without a default missing
        {"number": 1, "text": "t", "items": [], "other": 2},  # every field, and more
    ]
    for mapping in wrong:
        with pytest.raises(TypeError) as quick:
            FromMapping(mapping)
        with pytest.raises(TypeError) as keyword:
            Generated(**mapping)
        assert str(quick.value).split(".")[-1] == str(keyword.value).split(".")[-1]


def test_from_mapping_serves_only_what_quick_init_serves() -> None:
    with pytest.raises(TypeError, match="classes quick_init serves"):
        from_mapping(Generated)


@pytest.mark.parametrize(
    "cls", [*events.EVENT_TYPES.values(), events.JobItem, events.ItemRejection], ids=repr
)
def test_every_record_read_from_the_log_is_built_without_its_init(
    cls: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log's records are built slot by slot from their data (what ``from_data`` reads),
    not through the keyword call; they come out equal to it."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        values[f.name] = () if f.name in ("items", "rejected", "accepted", "resend") else 1
    data = _decoded(values)  # the tuples come back as lists, as from the log
    nested = getattr(cls, "nested", {})
    expected = cls(**{**data, **{name: () for name in nested}})  # from_data makes tuples

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("built through __init__")

    monkeypatch.setattr(cls, "__init__", refused)
    built = (
        cls.from_data(data) if cls in events.EVENT_TYPES.values() else events.BUILDERS[cls](data)
    )
    assert built == expected
