"""Running the `bulkauth` command line as a separate process against a test database."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import AUDIT_KEY


def cli_env(engine: AsyncEngine) -> dict[str, str]:
    url = engine.url.render_as_string(hide_password=False)
    return {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": url,
        "HOME": os.environ.get("HOME", "/"),
        "BULKAUTH_AUDIT_KEY": AUDIT_KEY,  # the key the `sessions` fixture and the bot use
    }


async def run_cli(
    engine: AsyncEngine, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env={**cli_env(engine), **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
