"""matplotlib figures (optional extra `plot`). Sits on `_transport`."""
