"""Running the stack's servers: TorchServe and the probe service as child processes, their configuration, ports,
readiness (a real prediction, never TorchServe's /ping) and the container health check. Torch-free, except
`launcher.stack`, which builds the model archives before it starts TorchServe."""
