"""Deprecated: moved to `service.routers.oip` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "service.routers.oip")
