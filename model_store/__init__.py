"""Model archives and TorchServe configuration: build the .mar files, write config.properties, run the server."""
