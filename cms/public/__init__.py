"""The public site: what readers see."""

from cms.public import feeds, invitations, site, views  # noqa: F401  (importing them registers their routes)
from cms.public.blueprint import bp
from cms.public.blueprint import site as site_bp

__all__ = ["bp", "site_bp"]
