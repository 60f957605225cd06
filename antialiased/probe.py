"""Deprecated: moved to `antialiased.local_probe` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "antialiased.local_probe")
