"""Unit tests of the pure Block Kit builders: each called as a plain function, its payload
validated by slack_sdk's models (`to_dict()` / `as_kwargs()`) and checked on what a user sees."""
