"""Deprecated: moved to `antialiased.serving.torchserve_keys` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "antialiased.serving.torchserve_keys")
