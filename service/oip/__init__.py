"""The Open Inference Protocol (KServe v2, Triton's REST protocol) in one place: its bodies and binary tensor data
(`protocol`), what an inference call of our models holds and answers (`calls`). The /v2 endpoints
(service/routers/oip.py) answer with them; the `oip` probe target (service/targets/oip.py) speaks the same `protocol`
as a client."""
