"""Deprecated: moved to `antialiased.serving.worker_restarts` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "antialiased.serving.worker_restarts")
