"""Metrics no library provides in the form the tasks need (corpus-level CIDEr-D, the composition score)."""
