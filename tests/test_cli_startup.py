"""Starting the CLI imports no heavy library: ``leaktrace --help`` and every command's
start do not pay for Polars, DuckDB, SQLAlchemy, scipy … (the commands import what they
need when they run). Each check runs in a fresh interpreter: this process has them all."""

from __future__ import annotations

import inspect
import json
import pkgutil
import subprocess
import sys

import typer

import leaktrace.cli

HEAVY = frozenset(
    {
        "cryptography",
        "duckdb",
        "fastapi",
        "numpy",
        "pandas",
        "polars",
        "pyarrow",
        "pydantic",
        "pyspark",
        "scipy",
        "sqlalchemy",
        "starlette",
        "uvicorn",
    }
)


def _heavy_imported_by(code: str) -> set[str]:
    """The heavy top-level packages a fresh interpreter has imported after ``code``."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_registering_the_commands_imports_nothing_heavy() -> None:
    assert _heavy_imported_by("import leaktrace.cli as c\nc._register()") == set()


def test_no_cli_module_imports_anything_heavy() -> None:
    """Every CLI module on its own, a new one included."""
    names = sorted(m.name for m in pkgutil.iter_modules(leaktrace.cli.__path__))
    assert {"attribution", "common", "scam", "workspace"} <= set(names)
    code = "\n".join(f"import leaktrace.cli.{name}" for name in names)
    assert _heavy_imported_by(code) == set()


def _param(path: list[str], name: str) -> typer.core.TyperOption:
    from leaktrace.cli import _register, app

    _register()
    command = typer.main.get_command(app)
    for part in path:
        command = command.commands[part]  # type: ignore[attr-defined]
    (param,) = (p for p in command.params if p.name == name)
    return param  # type: ignore[return-value]


def test_help_and_defaults_written_out_agree_with_the_library() -> None:
    """The CLI writes these out (importing them would import the library): the same."""
    from leaktrace.cli import cases as cli_cases
    from leaktrace.cli import workspace as cli_workspace
    from leaktrace.keys import SIGNING_PASSPHRASE_ENV
    from leaktrace.respond.cases import DEFAULT_CAP
    from leaktrace.workspace import TEMPLATES

    assert cli_cases.DEFAULT_CAP == DEFAULT_CAP
    assert _param(["case", "open"], "cap").default == DEFAULT_CAP
    assert cli_workspace.SIGNING_PASSPHRASE_ENV == SIGNING_PASSPHRASE_ENV
    assert f"${SIGNING_PASSPHRASE_ENV};" in str(_param(["init"], "protect_signing_key").help)
    assert tuple(TEMPLATES) == cli_workspace.TEMPLATE_NAMES
    assert _param(["recipient", "add"], "template").help == f"One of: {', '.join(TEMPLATES)}."


def test_checking_a_text_does_not_import_the_table_libraries() -> None:
    """``leaktrace scam check TEXT`` is what a shopper or an agent on the phone runs: it
    needs the model (numpy, scipy) but no table library. Polars alone was a fifth of the
    command's start; a file (``--file``) still reads through Polars."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "import leaktrace.cli as c\n"
        "c._register()\n"
        "r = CliRunner().invoke(c.app, ['scam', 'check', "
        "'您好，我是淘宝客服，您的订单有问题，需要给您退款'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert '疑似诈骗' in r.output or '未判定为诈骗' in r.output, r.output\n"
    )
    heavy = _heavy_imported_by(code)
    assert {"numpy", "scipy"} <= heavy  # the check did run its model
    assert heavy.isdisjoint({"polars", "pyarrow", "duckdb", "sqlalchemy", "pandas"}), heavy


def _commands(command: typer.core.TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(command path, help) for every command and group under ``command``."""
    found = [(" ".join(path), command.short_help or command.help or "")]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


def test_every_command_lists_on_one_line() -> None:
    """A command list (``leaktrace --help``, ``leaktrace report --help``) shows each
    command's first paragraph with its line breaks kept, so a docstring whose first
    sentence ran over two source lines printed as a broken line. The first paragraph is
    one line."""
    from leaktrace.cli import _register, app

    _register()
    broken = [
        path
        for path, help_ in _commands(typer.main.get_command(app))  # type: ignore[arg-type]
        if "\n" in inspect.cleandoc(help_).split("\n\n")[0]
    ]
    assert broken == []
