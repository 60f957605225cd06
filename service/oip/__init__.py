"""The Open Inference Protocol (KServe v2, Triton's REST protocol) in one place: its bodies and binary tensor data
(`protocol`), what an inference call of our models holds and answers (`calls`), and the /v2 endpoints (`router`).
The `oip` probe target (service/targets/oip.py) speaks the same `protocol` as a client."""
