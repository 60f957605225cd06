"""Deprecated: moved to `antialiased.datasets.files` (this path goes in the next release)."""

from antialiased._moved import moved

moved(__name__, "antialiased.datasets.files")
