"""Deprecated: moved to `antialiased.datasets.folders` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "antialiased.datasets.folders")
