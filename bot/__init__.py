"""bulkauth: a Slack bot that creates Nylas bulk authentication grants."""

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The installed version, or "0+unknown" when run from a bare checkout."""
    try:
        return version("bulkauth")
    except PackageNotFoundError:
        return "0+unknown"
