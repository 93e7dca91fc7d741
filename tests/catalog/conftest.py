"""The catalog tests use the commerce fixtures (a host with a room)."""

from tests.commerce.conftest import shop

__all__ = ["shop"]
