"""The error codes accounts raises: the ``code`` of its errors' JSON body (docs/api.md, "Errors").

Values are a contract with API clients: add codes, never change one.
"""

from __future__ import annotations

from enum import StrEnum


class AccountsCode(StrEnum):
    ACCOUNT_DISABLED = "account.disabled"
    ACCOUNT_EMAIL_TAKEN = "account.email_taken"
    ACCOUNT_PASSWORD_UNCHANGED = "account.password_unchanged"
    ACCOUNT_SELF_DEMOTION = "account.self_demotion"
    ACCOUNT_SELF_DISABLE = "account.self_disable"
    ACCOUNT_SIGNUP_RATE_LIMITED = "account.signup_rate_limited"
    USER_NOT_FOUND = "user.not_found"
