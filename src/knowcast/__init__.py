"""Knowcast: a self-hosted live-commerce platform for knowledge creators."""

__version__ = "0.1.0"
