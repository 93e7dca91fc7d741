"""What each role may do. Every route names the permission it needs (see knowcast.deps.require)."""

from __future__ import annotations

import enum

from knowcast.accounts.models import Role


class Permission(enum.StrEnum):
    VIEW = "view"  # signed in at all
    MODERATE = "moderate"  # hide chat, mute viewers
    MANAGE_ROOMS = "manage_rooms"  # create rooms, go live, shelf, sales
    MANAGE_SHOP = "manage_shop"  # users, roles, settings of the whole shop


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.VIEW}),
    Role.MODERATOR: frozenset({Permission.VIEW, Permission.MODERATE}),
    Role.HOST: frozenset({Permission.VIEW, Permission.MODERATE, Permission.MANAGE_ROOMS}),
    Role.OWNER: frozenset(Permission),
}


def has_permission(role: Role, permission: Permission) -> bool:
    return permission in GRANTS[role]
