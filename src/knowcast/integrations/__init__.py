"""Integrations: API tokens with scopes (hashed at rest) and outgoing signed webhooks with a delivery log."""
