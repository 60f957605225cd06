"""What `antialiased.antialias` tells its caller: the report of each strided layer, and its one error type."""

from __future__ import annotations

from dataclasses import dataclass


class AntialiasError(ValueError):
    """A model `antialias` cannot rewrite; `layer` names the layer (or graph node) at fault, "" the model itself."""

    def __init__(self, layer: str, problem: str) -> None:
        super().__init__(f"cannot antialias {repr(layer) if layer else 'the model'}: {problem}")
        self.layer = layer
        self.problem = problem


@dataclass(frozen=True)
class Downsampling:
    """One strided layer of the model: its name, the layer before, what computes it now (or why it was left as it
    was), and the name of the BlurPool added for it (None when left)."""

    layer: str
    before: str
    after: str
    blur: str | None = None


@dataclass(frozen=True)
class AntialiasReport:
    """Every strided 2D layer `antialias` found, in the order the model runs them."""

    downsamplings: tuple[Downsampling, ...]

    @property
    def rewritten(self) -> tuple[Downsampling, ...]:
        """The layers that were antialiased."""
        return tuple(item for item in self.downsamplings if item.blur is not None)

    @property
    def left(self) -> tuple[Downsampling, ...]:
        """The strided layers that kept their stride (`pool_only`, `skip`)."""
        return tuple(item for item in self.downsamplings if item.blur is None)

    @property
    def blur_filters(self) -> tuple[str, ...]:
        """The state_dict keys antialiasing added (the blur filters, buffers): all that a baseline checkpoint lacks."""
        return tuple(f"{item.blur}.filt" for item in self.rewritten)

    def __str__(self) -> str:
        if not self.downsamplings:
            return "no strided 2D downsampling: the model is unchanged"
        lines = [f"{len(self.rewritten)} of {len(self.downsamplings)} strided layers antialiased"]
        lines += [f"{item.layer}: {item.before} → {item.after}" for item in self.downsamplings]
        return "\n".join(lines)
