"""Deprecated: moved to `service.target_settings` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "service.target_settings")
