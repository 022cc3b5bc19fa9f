from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import model_validator

from service.common.schemas import InputDate, InputModel, Name, OutputModel, UtcDateTime


class CycleStatus(StrEnum):
    PLANNING = "planning"
    ACTIVE = "active"
    CLOSED = "closed"


class CycleCreate(InputModel):
    name: Name
    start_date: InputDate
    end_date: InputDate
    status: CycleStatus = CycleStatus.PLANNING

    @model_validator(mode="after")
    def _ordered(self) -> CycleCreate:
        if self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class CycleUpdate(InputModel):
    name: Name | None = None
    start_date: InputDate | None = None
    end_date: InputDate | None = None
    status: CycleStatus | None = None


class CycleRead(OutputModel):
    id: uuid.UUID
    name: str
    start_date: date
    end_date: date
    status: CycleStatus
    created_at: UtcDateTime
    updated_at: UtcDateTime
