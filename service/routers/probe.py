"""Deprecated: moved to `service.routers.stability` (this path goes in the next release)."""

from antialiased._moved import moved

moved(__name__, "service.routers.stability")
