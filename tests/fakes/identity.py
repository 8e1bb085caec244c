"""Google's token endpoint and Microsoft's login endpoint, faked in bot/demo/fakes/ (the demo
runs on them too); the tests' names stay."""

from bot.demo.fakes.identity import AzureApp, FakeGoogle, FakeMicrosoft

__all__ = ["AzureApp", "FakeGoogle", "FakeMicrosoft"]
