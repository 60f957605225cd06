"""Deprecated: moved to `antialiased.datasets.files` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "antialiased.datasets.files")
