"""What an API token may be allowed to do: the one list of scopes.

A route opts in to token access by naming a scope, ``require(Permission.MANAGE_ROOMS, scope=Scope.ROOMS_WRITE)``;
a route that names none refuses tokens. A token also acts as its user, so the user's role must still hold the
route's permission. To add a scope: one member here, one line in ``NEEDS`` (the permission a role must hold to
be given it) and its label ``integrations.scope.<value>`` in both locale files.
"""

from __future__ import annotations

import enum

from knowcast.accounts.models import Role
from knowcast.accounts.permissions import Permission, has_permission


class Scope(enum.StrEnum):
    ROOMS_READ = "rooms:read"
    ROOMS_WRITE = "rooms:write"
    # the stream key lets whoever holds it broadcast as the host: never implied by reading or editing rooms
    ROOMS_STREAM_KEY = "rooms:stream_key"
    ORDERS_READ = "orders:read"
    ANALYTICS_READ = "analytics:read"
    WEBHOOKS_MANAGE = "webhooks:manage"


NEEDS: dict[Scope, Permission] = {
    Scope.ROOMS_READ: Permission.MANAGE_ROOMS,
    Scope.ROOMS_WRITE: Permission.MANAGE_ROOMS,
    Scope.ROOMS_STREAM_KEY: Permission.MANAGE_ROOMS,
    Scope.ORDERS_READ: Permission.MANAGE_SHOP,
    Scope.ANALYTICS_READ: Permission.MANAGE_ROOMS,
    Scope.WEBHOOKS_MANAGE: Permission.MANAGE_SHOP,
}


def grantable(role: Role) -> list[Scope]:
    """The scopes a user of ``role`` may put on their own token."""
    return [scope for scope in Scope if has_permission(role, NEEDS[scope])]
