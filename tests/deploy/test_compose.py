"""docker-compose.yml and the Dockerfile, checked without Docker: the wiring a user relies on.

Every command of the compose file is parsed by the real parser of the program it runs — the
``actsearch`` argparse parser (built under the service's environment, so that the defaults read
from ``ACTSEARCH_*`` are exercised too), ``python -m store``, and Ray's own click CLI — so a
renamed flag or a typo in a variable fails here, not on a cluster. ``test_checks_catch_*`` feed
broken copies of the file to the same checks, to show that each one can fail.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shlex
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).parents[2]
SERVICES = {"postgres", "ray-head", "ray-worker", "api", "runner"}
RAY_SERVICES = ("ray-head", "ray-worker", "runner")
Compose = dict[str, Any]
# importing Ray's CLI imports Ray Serve's pydantic models, which warn about pydantic 2 on import
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def compose() -> Compose:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


# -- reading the file as Compose would --------------------------------------------------------

_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)")


def interpolate(text: str) -> str:
    """Compose's interpolation with an empty host environment: ``${X:-default}`` is the default,
    ``$$`` a literal ``$``; a variable without a default is an error (it would be empty)."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group(2) is None:
            raise AssertionError(f"{match.group(0)} has no default in {text!r}")
        return match.group(2)

    return _VARIABLE.sub(one, text)


def service(compose: Compose, name: str) -> dict[str, Any]:
    assert name in compose["services"], f"no service {name!r}"
    return compose["services"][name]


def environment(compose: Compose, name: str) -> dict[str, str]:
    env = service(compose, name).get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: interpolate(str(value)) for key, value in env.items()}


def commands(compose: Compose, name: str) -> list[list[str]]:
    """The argv of every program a service's command runs, in order, with the container
    shell's ``$VARIABLES`` expanded from the service's environment."""
    command = service(compose, name).get("command")
    assert command, f"{name} has no command"
    env = environment(compose, name)
    if isinstance(command, list) and command[:2] == ["sh", "-c"]:
        script = interpolate(command[2])
        # only `a && b`: with `;` a failed migration would not stop the server's start
        assert not re.search(r";|\|\||(?<!&)&(?!&)|\|", script), f"{name}: only && chains are understood: {script!r}"
        parts = [shlex.split(part) for part in script.split("&&")]
        argvs = [[string.Template(arg).substitute(env) for arg in argv] for argv in parts]
    else:
        argvs = [shlex.split(interpolate(command)) if isinstance(command, str) else [interpolate(a) for a in command]]
    return [argv[1:] if argv[0] == "exec" else argv for argv in argvs]


def healthcheck(compose: Compose, name: str) -> list[str]:
    check = service(compose, name).get("healthcheck") or {}
    test = check.get("test")
    assert test and not check.get("disable"), f"{name} has no healthcheck"
    if isinstance(test, str):
        return ["CMD-SHELL", interpolate(test)]
    return [interpolate(str(a)) for a in test]


# -- the real parsers ---------------------------------------------------------------------------


def parse_actsearch(argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """``actsearch ARGS`` parsed by the real parser, built in the service's environment."""
    from cli import build_parser

    assert argv[0] == "actsearch", f"not `actsearch`: {shlex.join(argv)}"
    with monkeypatch.context() as m:
        for key in [k for k in os.environ if k.startswith("ACTSEARCH_") or k == "RAY_ADDRESS"]:
            m.delenv(key)
        for key, value in env.items():
            m.setenv(key, value)
        parser = build_parser()
        try:
            args = parser.parse_args(argv[1:])
        except SystemExit as exc:
            raise AssertionError(f"actsearch rejects {shlex.join(argv)} (exit {exc.code})") from None
    # argparse never checks a default against its choices: a default read from the environment
    # (ACTSEARCH_LOG_FORMAT=jsn, ACTSEARCH_EXECUTOR=...) is checked here
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    assert isinstance(subcommands, dict)
    sub: argparse.ArgumentParser = subcommands[argv[1]]
    for action in sub._actions:
        current = getattr(args, action.dest, None)
        if action.choices is not None and current is not None:
            assert current in action.choices, f"{action.dest}={current!r} is not one of {list(action.choices)}"
    return args


class _Opened(Exception):
    """Raised instead of opening a database: ``python -m store current`` is only parsed."""


def parse_store(argv: list[str], monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None) -> list[str]:
    """``python -m store ARGS`` through its real ``main`` under ``env``, touching no database;
    returns the URLs it would migrate (``upgrade``) or open (``current``, ``revision``)."""
    import store.__main__ as store_main

    assert argv[:3] == ["python", "-m", "store"], f"not `python -m store`: {shlex.join(argv)}"
    monkeypatch.delenv("ACTSEARCH_DB", raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    urls: list[str] = []

    def opened(url: str) -> None:
        urls.append(url)
        raise _Opened

    monkeypatch.setattr(store_main, "migrate", urls.append)
    monkeypatch.setattr(store_main, "create_store_engine", opened)
    try:
        store_main.main(argv[3:])
    except SystemExit as exc:
        raise AssertionError(f"python -m store rejects {shlex.join(argv)} (exit {exc.code})") from None
    except _Opened:
        pass
    return urls


def parse_ray(argv: list[str]) -> dict[str, Any]:
    """``ray COMMAND ARGS`` parsed (not run) by Ray's click CLI: the options as Ray sees them."""
    import click
    from ray.scripts.scripts import cli

    assert argv[0] == "ray" and argv[1] in cli.commands, f"not a ray command: {argv}"
    try:
        return dict(cli.commands[argv[1]].make_context(argv[1], list(argv[2:])).params)
    except click.ClickException as exc:
        raise AssertionError(f"ray rejects {shlex.join(argv)}: {exc.format_message()}") from None


def ray_command(compose: Compose, name: str, verb: str) -> dict[str, Any]:
    found = [parse_ray(argv) for argv in commands(compose, name) if argv[:2] == ["ray", verb]]
    assert len(found) == 1, f"{name} should run `ray {verb}` once"
    return found[0]


def head_address(compose: Compose) -> str:
    head = ray_command(compose, "ray-head", "start")
    assert head["head"], "ray-head must run `ray start --head`"
    return f"ray-head:{head['port'] or 6379}"


# -- the checks ---------------------------------------------------------------------------------


def check_services(compose: Compose) -> None:
    assert set(compose["services"]) == SERVICES, f"services: {sorted(compose['services'])}, want {sorted(SERVICES)}"


def check_depends_on(compose: Compose) -> None:
    wanted = {"api": {"postgres"}, "runner": {"postgres", "ray-head"}, "ray-worker": {"ray-head"}}
    for name, needs in wanted.items():
        depends = service(compose, name).get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on must say which condition to wait for"
        for need in needs:
            assert depends.get(need, {}).get("condition") == "service_healthy", f"{name} must wait for {need} healthy"
    for name, spec in compose["services"].items():
        for need, how in (spec.get("depends_on") or {}).items():
            assert need in compose["services"], f"{name} depends on a missing service {need!r}"
            if how.get("condition") == "service_healthy":
                healthcheck(compose, need)


def check_postgres_health(compose: Compose) -> None:
    assert "pg_isready" in " ".join(healthcheck(compose, "postgres"))


def check_api_migrates_then_serves(compose: Compose, monkeypatch: pytest.MonkeyPatch) -> None:
    env = environment(compose, "api")
    argvs = commands(compose, "api")
    assert len(argvs) == 2, "the api runs the migrations, then the server"
    assert parse_store(argvs[0], monkeypatch, env) == [env["ACTSEARCH_DB"]], "migrations must run on ACTSEARCH_DB"
    args = parse_actsearch(argvs[1], env, monkeypatch)
    assert args.command == "serve" and args.no_runner, "the api serves only; the runner service runs jobs"
    assert args.host == "0.0.0.0" and args.db == env["ACTSEARCH_DB"]
    published = {str(p).split(":")[-1] for p in service(compose, "api").get("ports", [])}
    assert str(args.port) in published, f"the api listens on {args.port}, publishes {published}"
    probe = " ".join(healthcheck(compose, "api"))
    assert f"127.0.0.1:{args.port}{health_path()}'" in probe, \
        f"the api's healthcheck must GET {health_path()} on port {args.port}: {probe}"


def health_path() -> str:
    """Where the app really serves its unauthenticated health check."""
    from api.app import API_PREFIX
    from api.routes.service import health, router

    return API_PREFIX + next(str(getattr(route, "path", "")) for route in router.routes
                             if getattr(route, "endpoint", None) is health)


def check_runner(compose: Compose, monkeypatch: pytest.MonkeyPatch) -> None:
    env = environment(compose, "runner")
    argvs = commands(compose, "runner")
    assert argvs[-1][:2] == ["actsearch", "worker"], "the runner runs `actsearch worker`"
    args = parse_actsearch(argvs[-1], env, monkeypatch)
    address = head_address(compose)
    assert env["RAY_ADDRESS"] == address == args.ray_address, f"the runner joins {args.ray_address}, the head is {address}"
    # a Ray driver needs a raylet on its own host: the runner joins the cluster first
    assert ray_command(compose, "runner", "start")["address"] == address, "the runner's Ray node joins another head"
    assert args.device == "cuda" and 0 < args.eval_gpus <= 1, "the runner trains on the workers' GPUs"
    assert args.log_format == "json" and args.db == env["ACTSEARCH_DB"]


def check_ray_nodes(compose: Compose) -> None:
    address = head_address(compose)
    assert ray_command(compose, "ray-worker", "start")["address"] == address, f"ray-worker must join {address}"
    probe = healthcheck(compose, "ray-head")
    assert probe[1:3] == ["ray", "status"] and parse_ray(probe[1:])["address"] == address, f"ray-head's probe: {probe}"
    images = {name: (interpolate(service(compose, name).get("image", "")), (service(compose, name).get("build") or {}).get("target"))
              for name in RAY_SERVICES}
    assert len(set(images.values())) == 1, f"every Ray process needs the same image (Ray and Python versions): {images}"


def check_database_urls(compose: Compose) -> None:
    import store

    pg = environment(compose, "postgres")
    for name in ("api", "runner"):
        url = make_url(environment(compose, name)["ACTSEARCH_DB"])
        assert url.get_backend_name() == "postgresql" and url.host == "postgres" and url.port in (None, 5432), \
            f"{name}'s ACTSEARCH_DB is not the postgres service: {url}"
        assert (url.username, url.password, url.database) == (
            pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]), f"{name}'s ACTSEARCH_DB is not postgres's"
        store.normalize_url(str(url.render_as_string(hide_password=False)))


def check_gpu_worker(compose: Compose) -> None:
    worker = service(compose, "ray-worker")
    devices = worker.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices), \
        f"ray-worker reserves no NVIDIA GPU: {devices}"
    assert "container_name" not in worker, "a fixed container_name prevents --scale ray-worker=N"
    fixed = [p for p in worker.get("ports", []) if ":" in str(p)]
    assert not fixed, f"a fixed host port prevents --scale ray-worker=N: {fixed}"


def check_build_targets(compose: Compose) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = set(re.findall(r"^FROM\s+(?:--\S+\s+)*\S+\s+AS\s+(\S+)\s*$", dockerfile, flags=re.I | re.M))
    for name, spec in compose["services"].items():
        build = spec.get("build")
        if build is None:
            continue
        assert (ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).is_file()
        assert build.get("target") in stages, f"{name} builds target {build.get('target')!r}; stages: {stages}"


def check_env_vars(compose: Compose, known: set[str]) -> None:
    for name in compose["services"]:
        unknown = {key for key in environment(compose, name) if key.startswith("ACTSEARCH_")} - known
        assert not unknown, f"{name} sets variables no code reads: {sorted(unknown)}"


def known_settings() -> set[str]:
    """Every ACTSEARCH_* variable the code reads: the Settings fields, and the names in the source."""
    from api._settings import Settings

    names = {f"ACTSEARCH_{field.upper()}" for field in Settings.model_fields}
    for package in ("api", "cli", "worker", "evaluator", "store", "space", "search"):
        for path in (ROOT / package).rglob("*.py"):
            names |= set(re.findall(r"ACTSEARCH_[A-Z][A-Z0-9_]*", path.read_text()))
    return names


def check_ray_auth(compose: Compose) -> None:
    """Ray's token authentication: every Ray process presents one and the same secret."""
    tokens = set()
    for name in ("ray-head", "ray-worker", "runner"):
        env = environment(compose, name)
        assert env.get("RAY_AUTH_MODE") == "token", f"{name} runs Ray without token authentication"
        tokens.add(env.get("RAY_AUTH_TOKEN"))
    assert len(tokens) == 1 and None not in tokens, f"the Ray processes present different tokens: {tokens}"


# -- the tests ----------------------------------------------------------------------------------


def test_every_service_is_there(compose: Compose) -> None:
    check_services(compose)


def test_services_wait_for_healthy_dependencies(compose: Compose) -> None:
    check_depends_on(compose)
    check_postgres_health(compose)


def test_api_runs_migrations_then_serves_without_a_runner(compose: Compose, monkeypatch: pytest.MonkeyPatch) -> None:
    check_api_migrates_then_serves(compose, monkeypatch)


def test_runner_joins_the_ray_head(compose: Compose, monkeypatch: pytest.MonkeyPatch) -> None:
    check_runner(compose, monkeypatch)


def test_ray_nodes_share_one_address_and_one_image(compose: Compose) -> None:
    check_ray_nodes(compose)


def test_ray_processes_share_one_auth_token(compose: Compose) -> None:
    check_ray_auth(compose)


def test_database_urls_name_the_postgres_service(compose: Compose) -> None:
    check_database_urls(compose)


def test_gpu_workers_reserve_a_gpu_and_scale(compose: Compose) -> None:
    check_gpu_worker(compose)


def test_build_targets_are_dockerfile_stages(compose: Compose) -> None:
    check_build_targets(compose)


def test_every_actsearch_variable_is_read_by_the_code(compose: Compose) -> None:
    known = known_settings()
    assert {"ACTSEARCH_DB", "ACTSEARCH_EVAL_GPUS", "ACTSEARCH_MAX_BODY_BYTES"} <= known  # the collection works
    check_env_vars(compose, known)


def test_every_command_is_accepted_by_its_program(compose: Compose, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = set()
    for name in compose["services"]:
        if "command" not in service(compose, name):
            continue
        env = environment(compose, name)
        for argv in commands(compose, name):
            if argv[0] == "actsearch":
                parse_actsearch(argv, env, monkeypatch)
            elif argv[:3] == ["python", "-m", "store"]:
                parse_store(argv, monkeypatch)
            else:
                parse_ray(argv)
            seen.add(argv[0])
    assert seen == {"actsearch", "python", "ray"}


def test_dockerfile_copies_every_package_and_dockerignore_keeps_them() -> None:
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY\s+(\w+)\s+\./\1\s*$", dockerfile, flags=re.M))
    assert packages <= copied, f"packages not copied into the image: {sorted(packages - copied)}"
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", ".git"} <= ignored
    assert not ignored & (packages | {"pyproject.toml", "README.md"})


# -- each check fails on a broken file --------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[Compose], None]:
    def mutate(doc: Compose) -> None:
        *parents, last = path.split("/")
        node = doc
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


_DELETE = object()
_API = "services/api"
_RUNNER = "services/runner"


def _api_script(script: str) -> Callable[[Compose], None]:
    return _set(f"{_API}/command", ["sh", "-c", script])


BROKEN: dict[str, tuple[Callable[[Compose], None], str]] = {
    "service missing": (_set("services/runner", _DELETE), "services"),
    "no health condition": (_set(f"{_RUNNER}/depends_on/postgres", {"condition": "service_started"}), "depends_on"),
    "depended-on without healthcheck": (_set("services/ray-head/healthcheck", _DELETE), "depends_on"),
    "migrations of another database": (_api_script("python -m store upgrade --url sqlite:///x.db && exec actsearch serve --no-runner --host 0.0.0.0"), "api"),
    "serve before migrations": (_api_script("actsearch serve --no-runner --host 0.0.0.0 && python -m store upgrade"), "api"),
    "migrations not chained": (_api_script('python -m store upgrade; actsearch serve --no-runner'), "api"),
    "embedded runner": (_api_script('python -m store upgrade && actsearch serve --host 0.0.0.0'), "api"),
    "misspelt flag": (_api_script('python -m store upgrade && actsearch serve --no-runer --host 0.0.0.0'), "api"),
    "healthz on another port": (_set(f"{_API}/ports", ["9000:9000"]), "api"),
    "healthz outside the api prefix": (
        _set(f"{_API}/healthcheck/test", ["CMD", "python", "-c", "import urllib.request; "
                                          "urllib.request.urlopen('http://127.0.0.1:8000/healthz')"]), "api"),
    "wrong ray port": (_set(f"{_RUNNER}/environment/RAY_ADDRESS", "ray-head:6380"), "runner"),
    "runner on another host": (_set(f"{_RUNNER}/environment/RAY_ADDRESS", "head:6379"), "runner"),
    "runner is not a ray node": (_set(f"{_RUNNER}/command", "actsearch worker"), "runner"),
    "bad log format value": (_set(f"{_RUNNER}/environment/ACTSEARCH_LOG_FORMAT", "jsn"), "runner"),
    "bad ray flag": (_set("services/ray-worker/command", "ray start --adress=ray-head:6379 --block"), "ray"),
    "worker joins elsewhere": (_set("services/ray-worker/command", "ray start --address=ray-head:6380 --block"), "ray"),
    "mixed ray images": (_set(f"{_RUNNER}/build", {"context": ".", "target": "api"}), "ray"),
    "wrong db password": (_set(f"{_API}/environment/ACTSEARCH_DB", "postgresql://actsearch:x@postgres:5432/actsearch"), "db"),
    "db on localhost": (_set(f"{_RUNNER}/environment/ACTSEARCH_DB", "postgresql://actsearch:actsearch@localhost/actsearch"), "db"),
    "no gpu": (_set("services/ray-worker/deploy", _DELETE), "gpu"),
    "fixed name": (_set("services/ray-worker/container_name", "worker"), "gpu"),
    "fixed port": (_set("services/ray-worker/ports", ["8266:8265"]), "gpu"),
    "missing stage": (_set(f"{_API}/build", {"context": ".", "target": "apiserver"}), "build"),
    "typo variable": (_set(f"{_RUNNER}/environment/ACTSEARCH_EVAL_GPU", "0.25"), "env"),
    "runner without the ray token": (_set(f"{_RUNNER}/environment/RAY_AUTH_TOKEN", _DELETE), "auth"),
    "worker with another token": (_set("services/ray-worker/environment/RAY_AUTH_TOKEN", "x"), "auth"),
    "head without token auth": (_set("services/ray-head/environment", {}), "auth"),
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_checks_catch_a_broken_file(compose: Compose, monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    mutate, which = BROKEN[broken]
    checks: dict[str, Callable[[Compose], None]] = {
        "services": check_services,
        "depends_on": check_depends_on,
        "api": lambda doc: check_api_migrates_then_serves(doc, monkeypatch),
        "runner": lambda doc: check_runner(doc, monkeypatch),
        "ray": check_ray_nodes,
        "db": check_database_urls,
        "gpu": check_gpu_worker,
        "build": check_build_targets,
        "env": lambda doc: check_env_vars(doc, known_settings()),
        "auth": check_ray_auth,
    }
    checks[which](compose)  # the real file passes the very check that the broken copy fails
    doc = copy.deepcopy(compose)
    mutate(doc)
    with pytest.raises((AssertionError, KeyError)):
        checks[which](doc)


# -- docs/deploy.md -------------------------------------------------------------------------------


def doc_commands() -> list[list[str]]:
    """The ``actsearch``, ``python -m store`` and ``ray`` command lines of the deployment guide's
    shell blocks (prompts, comments, ``[optional]`` brackets and ``docker compose exec`` removed)."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    found = []
    for block in re.findall(r"```(?:bash|console)\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(re.sub(r"^\$ ", "", line.strip()).replace("[", "").replace("]", ""), comments=True)
            if argv[:3] == ["docker", "compose", "exec"]:
                argv = argv[4:] if argv[3] != "-T" else argv[5:]
            if argv[:2] == ["sh", "-c"]:
                argv = shlex.split(argv[2])
            if argv[:1] in (["actsearch"], ["ray"]) or argv[:3] == ["python", "-m", "store"]:
                found.append(argv)
    return found


def test_every_command_in_the_deployment_guide_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    argvs = doc_commands()
    assert {a[0] for a in argvs} == {"actsearch", "python", "ray"} and len(argvs) >= 10
    for argv in argvs:
        if argv[0] == "actsearch":
            parse_actsearch(argv, {}, monkeypatch)
        elif argv[0] == "python":
            parse_store(argv, monkeypatch)
        else:
            parse_ray(argv)


def test_the_deployment_guide_names_every_setting() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    missing = sorted(name for name in known_settings() if f"`{name}`" not in text)
    assert not missing, f"settings docs/deploy.md does not document: {missing}"
