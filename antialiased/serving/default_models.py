"""What a default deployment serves (`make run`, the containers) and the probe service probes: served model
name -> the registry weights it serves (see `python -m antialiased.weights list`)."""

DEFAULT_MODELS: dict[str, str] = {"resnet50_lpf4": "resnet50_lpf4_finetune", "resnet50": "resnet50_baseline"}
