"""The fake Nylas lives in bot/demo/fakes/ (the demo runs on it too); the tests' names stay."""

from bot.demo.fakes.nylas import FakeNylas
from bot.demo.fakes.nylas_records import API_KEY, HTML_502, Recorded, Reply, StoredCredential

__all__ = ["API_KEY", "HTML_502", "FakeNylas", "Recorded", "Reply", "StoredCredential"]
