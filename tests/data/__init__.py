"""Data tests (a package, so that its conftest does not shadow tests/conftest.py, which the top-level
tests import as `conftest`)."""
