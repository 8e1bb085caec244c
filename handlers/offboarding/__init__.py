"""Offboarding surfaces, one module each with a `register(app)`: `revoke` (`/bulkauth revoke`
and a run's undo button) and `credential_deletion` (`/bulkauth credential delete <name>`)."""
