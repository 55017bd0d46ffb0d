"""The REST API of the ELAsTiCC app (README, "REST API"): simulation tables,
alerts, truth, broker messages, taxonomy, with keyset pagination."""
