"""Deprecated: moved to `antialiased.datasets.folders` (this path goes in the next release)."""

from antialiased._moved import moved

moved(__name__, "antialiased.datasets.folders")
