"""ISO 8601 durations (``PT5M``, ``P1D``) and short buckets (``15m``, ``1h``). Pure.

Durations are exact: they are read as whole microseconds (``timedelta``'s resolution) with
integer arithmetic, never through a float, so ``format_duration(parse_duration(text))``
gives back the same length. What a ``timedelta`` cannot hold exactly is refused with a
``ValueError`` (which pydantic and the services answer with a 422), never rounded: more
than six decimals of a second (``PT0.0000001S`` would become zero) or more than
``timedelta.max`` (``P9999999999D``, or 400 nines of seconds, once ``float('inf')``).
"""

from __future__ import annotations

import re
from datetime import timedelta

_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+)(?:\.(?P<fraction>\d+))?S)?)?$"
)
_SHORT = re.compile(r"^(?P<count>\d+)(?P<unit>[smhdw])$")
_MICROSECONDS = {
    "weeks": 604_800_000_000,
    "days": 86_400_000_000,
    "hours": 3_600_000_000,
    "minutes": 60_000_000,
    "seconds": 1_000_000,
}
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# The longest duration a timedelta holds, P999999999DT23H59M59.999999S, is 28 characters;
# leading zeros aside, anything much longer is out of range, and int() of thousands of digits
# is refused (or slow) anyway.
MAX_LENGTH = 64


def _micros(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


def _of_micros(text: str, micros: int, maximum: timedelta) -> timedelta:
    if micros > _micros(maximum):
        raise ValueError(f"{text!r} is too long: a duration is at most {format_duration(maximum)}")
    return timedelta(microseconds=micros)


def parse_duration(text: str, maximum: timedelta = timedelta.max) -> timedelta:
    """``PT5M`` -> 5 minutes. Months and years are refused: they have no fixed length."""
    upper = text.strip().upper()
    if len(upper) > MAX_LENGTH:
        raise ValueError(f"a duration is at most {MAX_LENGTH} characters, such as PT5M or P1D")
    match = _ISO.match(upper)
    if not match or upper in ("P", "PT") or upper.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT5M or P1D")
    parts = match.groupdict()
    fraction = (parts.pop("fraction") or "").rstrip("0")
    if len(fraction) > 6:
        raise ValueError(
            f"{text!r} is more precise than a microsecond: a duration has at most six decimals"
        )
    micros = sum(int(v) * _MICROSECONDS[k] for k, v in parts.items() if v)
    micros += int(fraction.ljust(6, "0")) if fraction else 0
    return _of_micros(text, micros, maximum)


def parse_bucket(text: str, maximum: timedelta = timedelta.max) -> timedelta:
    """A downsampling bucket: ``15m``, ``1h``, ``1d`` or an ISO duration."""
    if len(text) > MAX_LENGTH:
        raise ValueError(f"a duration is at most {MAX_LENGTH} characters, such as 15m or PT15M")
    match = _SHORT.match(text.strip())
    if match:
        micros = int(match["count"]) * _MICROSECONDS[_UNITS[match["unit"]]]
        return _of_micros(text, micros, maximum)
    return parse_duration(text, maximum)


def format_duration(value: timedelta) -> str:
    """5 minutes -> ``PT5M``, 1.5 seconds -> ``PT1.5S``, zero -> ``PT0S``: exact to the
    microsecond, so ``parse_duration`` reads back the same ``timedelta``."""
    sign, total = ("-", -value) if value < timedelta(0) else ("", value)
    days = total.days
    hours, rest = divmod(total.seconds, 3_600)
    minutes, seconds = divmod(rest, 60)
    second_text = str(seconds)
    if total.microseconds:
        second_text += "." + f"{total.microseconds:06d}".rstrip("0")
    out = sign + "P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or total.microseconds or not (days or clock):
        clock += f"{second_text}S"
    return out + ("T" + clock if clock else "")
