"""Building TorchServe model archives (.mar): verified weights, the handler and the library, model-config.yaml."""
