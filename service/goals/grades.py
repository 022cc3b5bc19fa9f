"""Grades at close: the final score read as a colour (the seeds' 0.7 / 0.4 convention)."""

from __future__ import annotations

from enum import StrEnum


class Grade(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def grade_of(final_score: float | None, green: float, yellow: float) -> Grade | None:
    """Green from ``green`` (0.7) up, yellow from ``yellow`` (0.4), red below; none before
    there is a final score."""
    if final_score is None:
        return None
    if final_score >= green:
        return Grade.GREEN
    if final_score >= yellow:
        return Grade.YELLOW
    return Grade.RED
