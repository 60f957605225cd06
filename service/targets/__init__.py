"""The classifiers the probe service probes: one `Target` per configured name, one module per protocol (`ours`,
`torchserve`, `oip`); `config` says how each is configured, `registry` builds them from the settings."""
