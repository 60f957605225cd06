"""Deprecated: moved to `antialiased.serving.handler_client` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "antialiased.serving.handler_client")
