"""`python -m bot` is `bulkauth`."""

from bot.cli import main

if __name__ == "__main__":
    main()
