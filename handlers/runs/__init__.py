"""Run surfaces: requesting grants (`grants`) and revocations (`revoke`), deciding them
(`approvals`), cancelling and resuming (`controls`), the progress message's report buttons
(`reports`)."""
