"""The fast batch schema (``service/kpis/batch_schema.py``) accepts only readings the full
``BatchReadingIn`` accepts, with the same values, and does accept the usual ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from service.kpis.batch_schema import FAST_BATCH, in_utc
from service.kpis.schemas import BatchReadingIn

SLOW = TypeAdapter(list[BatchReadingIn])

offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
)


def spelled(instant: datetime, style: int) -> str:
    """The instant as clients write it, and as they get it slightly wrong."""
    text = instant.isoformat()
    return [
        text,
        text.replace("+00:00", "Z"),
        text.replace("T", " "),
        text.replace("T", "t").replace("+00:00", "z"),
        text[:19],  # no offset
        text[:10],  # a date
        text.replace("+", "+0").replace("-0", "-"),  # a broken offset
        text.replace(".", ".1234567") if "." in text else text + ".1234567",
    ][style]


observed = st.one_of(
    st.builds(spelled, instants, st.integers(0, 7)),
    st.text(max_size=40),
    st.sampled_from(["1700000000", "2026-02-30T00:00:00Z", "2026-01-02T24:00:00Z", ""]),
    st.integers(),
    st.floats(),
    st.none(),
    st.booleans(),
)
texts = st.one_of(st.text(max_size=210), st.sampled_from(["mrr", "a\x00b", "a\tb", "é", " "]))
values = st.one_of(st.floats(), st.integers(), st.booleans(), st.text(max_size=5), st.none())


@st.composite
def readings(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {"kpi": draw(texts), "value": draw(values)}
    if draw(st.booleans()):
        item["observed_at"] = draw(observed)
    if draw(st.booleans()):
        item["source"] = draw(st.one_of(texts, st.none()))
    if draw(st.integers(0, 9)) == 0:
        item["extra"] = 1
    if draw(st.integers(0, 19)) == 0:
        del item["value"]
    return item


@settings(max_examples=2_000, deadline=None)
@given(st.lists(readings(), min_size=1, max_size=3))
def test_what_the_fast_schema_accepts_the_full_one_accepts_alike(items: list[Any]) -> None:
    try:
        fast = FAST_BATCH.validate_python(items)
    except ValidationError:
        return  # refused: the request takes the full path, item by item
    slow = SLOW.validate_python(items)
    for quick, full in zip(fast, slow, strict=True):
        assert quick["kpi"] == full.kpi
        assert quick["value"] == full.value and type(quick["value"]) is type(full.value)
        assert quick.get("source") == full.source
        at = quick.get("observed_at")
        assert (in_utc(at) if at else None) == full.observed_at
        if at:
            assert in_utc(at).tzinfo is UTC and full.observed_at.tzinfo is UTC


def test_the_usual_readings_take_the_fast_path() -> None:
    usual = [
        {"kpi": "mrr", "value": 1.5},
        {"kpi": "mrr", "value": 2, "observed_at": "2026-01-02T03:04:05Z", "source": "crm"},
        {"kpi": "mrr", "value": -3e9, "observed_at": "2026-01-02T03:04:05.123456+02:00"},
        {"kpi": "nps", "value": 0.0, "observed_at": "2026-01-02T03:04:05.1-05:30", "source": None},
        {"kpi": "0b0e1c9e-8f1e-4a59-9d0e-3c6d2f3b9a10", "value": 7, "observed_at": None},
    ]
    fast = FAST_BATCH.validate_python(usual)
    assert [in_utc(r["observed_at"]) for r in fast if r.get("observed_at")] == [
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 1, 4, 5, 123456, tzinfo=UTC),
        datetime(2026, 1, 2, 8, 34, 5, 100000, tzinfo=UTC),
    ]


def test_control_characters_and_non_finite_values_are_left_to_the_full_path() -> None:
    for item in (
        {"kpi": "m\x00rr", "value": 1},
        {"kpi": "mrr", "value": 1, "source": "a\x1fb"},
        {"kpi": "mrr", "value": float("nan")},
        {"kpi": "mrr", "value": True},
        {"kpi": "mrr", "value": 1, "observed_at": "1700000000"},
        {"kpi": "mrr", "value": 1, "observed_at": 1700000000},
    ):
        try:
            FAST_BATCH.validate_python([item])
        except ValidationError:
            continue
        raise AssertionError(f"the fast schema accepted {item!r}")
