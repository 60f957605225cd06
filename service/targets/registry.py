"""The probe targets of the settings, built: name -> `Target`."""

from __future__ import annotations

from service.observability import ServiceMetrics
from service.settings import Settings
from service.target_settings import OipConfig, OursConfig, TargetConfig, TorchServeConfig
from service.targets.base import Target
from service.targets.oip import OipTarget
from service.targets.ours import OursTarget
from service.targets.torchserve import TorchServeTarget
from service.torchserve_client import TorchServeClient


def build_targets(settings: Settings, client: TorchServeClient, metrics: ServiceMetrics) -> dict[str, Target]:
    """Name -> target for every probe target of `settings`; `ours` targets without a URL share `client`."""
    return {config.name: _build(config, settings, client, metrics) for config in settings.probe_targets}


def _build(config: TargetConfig, settings: Settings, client: TorchServeClient, metrics: ServiceMetrics) -> Target:
    if isinstance(config, TorchServeConfig):
        return TorchServeTarget(config)
    if isinstance(config, OipConfig):
        return OipTarget(config)
    assert isinstance(config, OursConfig)
    if config.url is None:
        return OursTarget(config, client, owns_client=False)
    client = TorchServeClient(settings, metrics, url=config.url, token=config.token or settings.torchserve_token)
    return OursTarget(config, client, owns_client=True)
