"""Grant health after day one: invalid grants per credential, the sweep, re-authentication."""
