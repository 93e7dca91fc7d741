"""Interaction tests run against the same live server, room and members as the real-time plane's tests."""

from tests.realtime.conftest import host, live, room

__all__ = ["host", "live", "room"]
