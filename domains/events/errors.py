from enum import StrEnum


class EventErrorCode(StrEnum):
    FESTIVAL_NOT_FOUND = "FESTIVAL_NOT_FOUND"
