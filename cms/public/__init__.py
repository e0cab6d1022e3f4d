"""The public site: what readers see."""

from cms.public import media, views  # noqa: F401  (importing them registers their routes)
from cms.public.blueprint import bp

__all__ = ["bp"]
