"""Deprecated: moved to `launcher.probe_service` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "launcher.probe_service")
