"""ISO 8601 durations (``PT5M``, ``P1D``) and short buckets (``15m``, ``1h``). Pure."""

from __future__ import annotations

import re
from datetime import timedelta

_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_SHORT = re.compile(r"^(?P<count>\d+)(?P<unit>[smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``PT5M`` -> 5 minutes. Months and years are refused: they have no fixed length."""
    match = _ISO.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT5M or P1D")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(**parts)


def parse_bucket(text: str) -> timedelta:
    """A downsampling bucket: ``15m``, ``1h``, ``1d`` or an ISO duration."""
    match = _SHORT.match(text.strip())
    if match:
        return timedelta(**{_UNITS[match["unit"]]: int(match["count"])})
    return parse_duration(text)


def format_duration(value: timedelta) -> str:
    """5 minutes -> ``PT5M``; zero -> ``PT0S``."""
    total = int(value.total_seconds())
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    clock += f"{seconds}S" if seconds or not (days or clock) else ""
    return out + ("T" + clock if clock else "")
