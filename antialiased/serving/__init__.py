"""The serving glue that the handler, the probe service, the launcher and the evaluation's endpoint engine share
(torch-free): `contract` (the handler's wire format), `handler_client` (its one client), `torchserve_keys`,
`worker_restarts`, `readiness` (the readiness prediction) and `default_models` (what a default deployment serves).

The model library beneath it imports nothing of it (tests/test_import_layers.py)."""
