"""The demo mode's parts (issue 15): so far the local fakes of Slack, Nylas, Google and
Microsoft that a demo runs the bot against, and that the tests drive."""
