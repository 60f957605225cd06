"""Deprecated: moved to `antialiased.evaluate.model_specs` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "antialiased.evaluate.model_specs")
