"""See facegan/__init__.py."""
