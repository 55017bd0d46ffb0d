"""The REST API of the ELAsTiCC app (spec/http-api.md): simulation tables,
alerts, truth, broker messages, taxonomy, with keyset pagination."""
