"""What crosses the edge for chat moderation, Q&A and polls."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, Field, field_validator

from knowcast.interaction.models import SanctionKind
from knowcast.validation import Input

MAX_MUTE_SECONDS = 30 * 86400


def _clean(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    return value


class HideIn(Input):
    purge_user_id: int | None = None  # also remove every recent line of this user


class SanctionIn(Input):
    user_id: int
    kind: SanctionKind
    seconds: int | None = Field(default=None, ge=10, le=MAX_MUTE_SECONDS)  # mutes; bans last until lifted
    reason: str = Field(default="", max_length=200)


class SanctionOut(BaseModel):
    user_id: int
    kind: SanctionKind
    until: str | None


class SlowModeIn(Input):
    seconds: int = Field(ge=0, le=600)


class PersonIn(Input):
    email: EmailStr
    title: str = Field(default="", max_length=64)


class PersonOut(BaseModel):
    user_id: int
    name: str
    title: str = ""


class WordIn(Input):
    word: str = Field(min_length=1, max_length=64)

    _word = field_validator("word")(lambda v: _clean(v).lower())


class WordList(BaseModel):
    words: list[str]


class QuestionIn(Input):
    text: str = Field(min_length=1, max_length=300)

    _text = field_validator("text")(_clean)


class AnswerIn(Input):
    answer: str = Field(default="", max_length=1000)


class PinIn(Input):
    pinned: bool


class QuestionOut(BaseModel):
    id: int
    user_id: int
    name: str
    text: str
    votes: int
    answered: bool
    pinned: bool
    answer: str
    answered_by: str | None
    at: str


class PollIn(Input):
    question: str = Field(min_length=1, max_length=200)
    options: list[str] = Field(min_length=2, max_length=6)

    _question = field_validator("question")(_clean)

    @field_validator("options")
    @classmethod
    def _options(cls, options: list[str]) -> list[str]:
        cleaned = [_clean(option) for option in options]
        if any(len(option) > 60 for option in cleaned):
            raise ValueError("an option has at most 60 characters")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("options must differ")
        return cleaned


class VoteIn(Input):
    option: int = Field(ge=0)


class PollOut(BaseModel):
    id: int
    question: str
    options: list[str]
    counts: list[int]
    total: int
    state: str
