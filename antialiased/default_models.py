"""Deprecated: moved to `antialiased.serving.default_models` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "antialiased.serving.default_models")
