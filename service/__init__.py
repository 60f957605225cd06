"""The shift-stability probe service: FastAPI in front of TorchServe."""
