"""`bulkauth demo` (issue 15): the real bot against local fakes of Slack, Nylas, Google and
Microsoft (`fakes/`, which the tests drive too), with a local page that plays Slack's client
for two people (`run.py` puts it together; `ui.py` holds Slack's client rules)."""
