"""Deprecated: moved to `antialiased.serving.contract` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "antialiased.serving.contract")
