"""Offboarding: revoking grants (`/bulkauth revoke`, undoing a run) and deleting a credential.
Both go through the runs' approval machinery; they sit above `bot.runs` and `bot.credentials`."""
