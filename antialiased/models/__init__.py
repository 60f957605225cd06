"""The antialiased model zoo: every architecture of the paper's package, by name (the table is `zoo.ZOO`)."""

from antialiased.models.blurred import DEFAULT_FILTER_SIZE
from antialiased.models.zoo import create_baseline, create_model, list_architectures

__all__ = ["DEFAULT_FILTER_SIZE", "create_baseline", "create_model", "list_architectures"]
