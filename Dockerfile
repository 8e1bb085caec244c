# bulkauth: `bulkauth serve` as a non-root user, with a health probe on /healthz.
# The install step is the README's Quick start install (tests/test_shipping.py keeps them the same).

FROM python:3.11-slim AS build
# The venv must live at the same path in both stages: its scripts name their interpreter by path.
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN python3 -m venv .venv && .venv/bin/pip install -q .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --home-dir /data --create-home bulkauth
COPY --from=build /app/.venv /app/.venv
USER 10001:10001
# The working directory holds what the bot writes beside itself: the audit anchor file by default
# (and a SQLite database if DATABASE_URL is left at its default). Mount a volume here.
WORKDIR /data
ENV PYTHONUNBUFFERED=1 \
    PORT=3000
EXPOSE 3000
# No curl in slim images: the venv's Python asks /healthz (503 and refused connections fail it).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/app/.venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=4)"]
ENTRYPOINT ["/app/.venv/bin/bulkauth"]
CMD ["serve"]
