"""The service's HTTP routers."""
