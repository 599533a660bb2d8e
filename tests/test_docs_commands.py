"""Every ``manage.py`` command the manuals document is real: its ``--help`` runs, and each
documented invocation parses with that command's own argument parser (a renamed flag or a
removed command fails here, not in front of an operator at 3 a.m.).

Commands are collected from the documents, not listed here: a manual that names a command
another branch has not delivered yet fails visibly until it exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from django.core.management import ManagementUtility, get_commands, load_command_class

ROOT = Path(__file__).resolve().parent.parent
MANUALS = ["README.md", "docs/DEPLOYMENT.md", "docs/USER_MANUAL.md", "docs/OPERATIONS.md",
           "docs/DISASTER_RECOVERY.md", "docs/demo-controls.md"]
INVOCATION = re.compile(r"manage\.py\s+([a-z][a-z0-9_]*)([^`\n#|]*)")


def documented_invocations() -> list[tuple[str, str, list[str]]]:
    """(document, command, arguments) of every ``manage.py X ...`` in the manuals."""
    found = []
    for name in MANUALS:
        path = ROOT / name
        if not path.exists():
            continue
        for match in INVOCATION.finditer(path.read_text()):
            found.append((name, match.group(1), shell_words(match.group(2))))
    return found


def shell_words(text: str) -> list[str] | None:
    """The arguments up to the first shell operator; None for a template (``<...>``,
    ``[--flag]``, ``...``) or prose the shell could not parse: only ``--help`` is checked."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    words = []
    try:
        for word in lexer:
            if word and set(word) <= set(";&|"):
                break
            words.append(word)
    except ValueError:
        return None
    if any(w.startswith(("<", "[")) or w.endswith((">", "]")) or "..." in w for w in words):
        return None
    return words


INVOCATIONS = documented_invocations()
COMMANDS = sorted({command for _, command, _ in INVOCATIONS})


def test_the_manuals_document_commands():
    assert {"check_production", "backup", "restore", "reconcile", "kill_switch",
            "create_totp_device", "send_test_alert"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_documented_command_help_runs(command, capsys):
    assert command in get_commands(), f"manage.py {command}: no such command on this branch"
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", command, "--help"]).execute()
    assert exited.value.code in (0, None)
    assert f"usage: manage.py {command}" in capsys.readouterr().out


@pytest.mark.parametrize(("document", "command", "args"),
                         [i for i in INVOCATIONS if i[2] is not None and "--help" not in i[2]],
                         ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_documented_invocation_parses(document, command, args, capsys):
    app = get_commands().get(command)
    assert app, f"{document}: manage.py {command}: no such command on this branch"
    parser = load_command_class(app, command).create_parser("manage.py", command)
    try:
        parser.parse_args(args)
    except SystemExit:
        pytest.fail(f"{document}: manage.py {command} {' '.join(args)}: "
                    f"{capsys.readouterr().err.strip()}")
