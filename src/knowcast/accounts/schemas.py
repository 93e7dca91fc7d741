"""What crosses the edge for accounts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from knowcast.accounts.models import Role
from knowcast.validation import Input

MIN_PASSWORD = 8


def _clean_name(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    return value


class SignUp(Input):
    email: EmailStr
    password: str = Field(min_length=MIN_PASSWORD, max_length=256)
    display_name: str = Field(min_length=1, max_length=64)

    _name = field_validator("display_name")(_clean_name)


class SignIn(Input):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)


class PasswordChange(Input):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=MIN_PASSWORD, max_length=256)


class ProfileUpdate(Input):
    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    locale: str | None = Field(default=None, pattern=r"^(zh-CN|en)$")
    real_name: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{5,19}$")

    _name = field_validator("display_name")(lambda v: None if v is None else _clean_name(v))


class RoleChange(Input):
    role: Role


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    real_name: str | None
    phone: str | None
    role: Role
    locale: str | None
    created_at: datetime


class Me(BaseModel):
    user: UserPublic
    csrf_token: str
