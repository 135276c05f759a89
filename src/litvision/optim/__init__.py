"""Optimisers that torch does not ship."""
