"""Local fakes of Slack, Nylas, Google's token endpoint and Microsoft's login endpoint: real
HTTP servers that answer like the services, errors included. The demo runs the bot against
them; the tests drive them (tests/fakes re-exports these names)."""
