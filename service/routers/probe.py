"""Deprecated: moved to `service.routers.stability` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "service.routers.stability")
