"""Deprecated: moved to `antialiased.finetune.batches` (this path goes in the next release)."""

from antialiased._deprecated import moved

moved(__name__, "antialiased.finetune.batches")
