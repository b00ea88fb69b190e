"""The hot path's JSON: orjson where it can, and exactly the standard library's answers."""

from __future__ import annotations

import json

import pytest

from marketsync import jsoncodec
from marketsync.domain.events import FeedReportReceived, ItemRejection, JobItem, JobReserved


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "b": [true, null, 2.5], "c": "é"}',
        '{"quantity": NaN}',  # json reads it, orjson does not
        '{"version": 123456789012345678901234567890}',  # beyond 64 bits: a float to orjson
        '{"version": -9223372036854775809}',  # below the smallest 64-bit integer
        '{"price": 1.2345678901234567890123}',  # many digits, but a float either way
        '{"sku": "\\ud800"}',  # a lone surrogate
        '{"a": 1, "a": 2}',  # the last duplicate wins in both
    ],
)
def test_loads_reads_what_json_reads(text: str) -> None:
    expected = json.loads(text)
    got = jsoncodec.loads(text)
    assert repr(got) == repr(expected)  # repr: NaN is not equal to itself


@pytest.mark.parametrize("text", ["", "{", '{"a": }', "[1,]"])
def test_loads_refuses_what_json_refuses_with_its_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        jsoncodec.loads(text)


def test_an_event_is_written_as_its_data_nested_records_included() -> None:
    """The event store writes ``fields()`` (records as they are); replay reads it back as
    ``to_data()`` would have written it."""
    events = [
        JobReserved(
            at=1.5,
            job_id=7,
            account="acc",
            marketplace="MP",
            job_type="update-qty",
            items=(
                JobItem(sku="A", message_id=1, quantity=3, quantity_version=2),
                JobItem(sku="B", message_id=2, action="list", asin="B000000001", price="9.99"),
            ),
        ),
        FeedReportReceived(
            at=2.0,
            job_id=7,
            feed_id="F1",
            report="{}",
            accepted=("A",),
            rejected=(ItemRejection(sku="B", code="8541", message="no", retry_at=9.0),),
        ),
    ]
    for event in events:
        written = jsoncodec.loads(jsoncodec.dumps(event.fields()))
        assert written == json.loads(json.dumps(event.to_data()))


def test_text_orjson_refuses_is_written_and_read_back_all_the_same() -> None:
    """A lone surrogate (Amazon's report may escape one into a message): orjson will not
    write or read it; the standard library does, and the event comes back the same."""
    event = FeedReportReceived(
        at=2.0,
        job_id=7,
        feed_id="F1",
        report="{}",
        accepted=(),
        rejected=(ItemRejection(sku="B", code="8541", message="bad \ud800 text"),),
    )
    written = jsoncodec.dumps(event.fields())
    assert jsoncodec.loads_recorded(written) == json.loads(json.dumps(event.to_data()))
