"""Imports every domain's models so that the metadata (and Alembic) sees all tables."""

from __future__ import annotations


def load_all_models() -> None:
    import knowcast.accounts.models
    import knowcast.analytics.models
    import knowcast.catalog.models
    import knowcast.commerce.models
    import knowcast.commerce.promotions
    import knowcast.growth.models
    import knowcast.integrations.models
    import knowcast.interaction.models
    import knowcast.media.models
    import knowcast.privacy.models
    import knowcast.rooms.models  # noqa: F401
