"""Mutation testing of the core modules with mutmut, one module at a time.

    python tools/mutation.py [MODULE ...] [--max-children N] [--keep]

For each module (all of them by default) this copies the project into
build/mutation/MODULE/, writes a mutmut configuration there that mutates that
module's functions only and runs the tests that cover it, runs mutmut, and
prints the score and every mutant that survived (`mutmut show NAME`, run in that
directory, shows one). The score counts a mutant as killed when a test failed or
it timed out; mutants that no test reached count against the score.

The copy keeps each run apart from the work tree and from the others: mutmut
writes its mutants/ next to its configuration, and a module's configuration
names only its own tests. `make mutation` runs this; it is not part of
`make test`: it takes from minutes to an hour a module on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "build" / "mutation"


@dataclass(frozen=True)
class Module:
    path: str
    # Which of its functions are mutated: mutmut's mutant-name globs. mutmut names
    # a function's mutants `pkg.module.x_function__mutmut_N` and a method's
    # `pkg.module.xǁClassǁmethod__mutmut_N`.
    functions: tuple[str, ...]
    tests: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")


def _all(path: str) -> tuple[str, ...]:
    return (path.removesuffix(".py").replace("/", ".") + ".*",)


MODULES: dict[str, Module] = {
    # Signing and withdrawing.
    "signatures": Module(
        "bot/signatures.py",
        _all("bot/signatures.py"),
        (
            "tests/test_domain_signatures.py",
            "tests/test_bystanders.py",
            "tests/test_signing.py",
            "tests/test_conditional.py",
            "tests/test_rewrite.py",
            "tests/test_grid_moves.py",
        ),
    ),
    # Identities and sealing.
    "keyring": Module(
        "bot/keyring.py",
        _all("bot/keyring.py"),
        ("tests/test_keyring.py", "tests/test_known_answers.py", "tests/test_rekey.py"),
    ),
    "eligibility": Module(
        "bot/eligibility.py",
        _all("bot/eligibility.py"),
        ("tests/test_known_answers.py", "tests/test_eligibility.py", "tests/test_form_pass.py"),
    ),
    # Announcements.
    "announcements": Module(
        "bot/announcements.py",
        _all("bot/announcements.py"),
        (
            "tests/test_milestone_boundaries.py",
            "tests/test_announcements.py",
            "tests/test_channels.py",
        ),
    ),
    # Escaping and limits: the helpers every surface's text goes through.
    "blocks": Module(
        "handlers/blocks.py",
        tuple(
            f"handlers.blocks.x_{name}__mutmut_*"
            for name in (
                "escape",
                "clip",
                "_safe_cut",
                "fit",
                "split_text",
                "_plain",
                "_mrkdwn",
                "_section",
                "_sections",
                "_context",
            )
        ),
        ("tests/test_escaping.py", "tests/test_slack_limits.py"),
    ),
    "slackcheck": Module(
        "bot/slackcheck.py",
        _all("bot/slackcheck.py"),
        ("tests/test_slackcheck.py", "tests/test_fakeslack.py"),
    ),
    # The SQLite pragmas, the WAL's scrub and the file's permissions.
    "db": Module(
        "storage/db.py",
        tuple(
            f"storage.db.x_{name}__mutmut_*"
            for name in ("_on_sqlite_connect", "_on_sqlite_begin", "_owner_only")
        )
        + tuple(
            f"storage.db.xǁDatabaseǁ{name}__mutmut_*"
            for name in ("scrub", "scrub_until_done", "backup")
        ),
        ("tests/test_sqlite_pragmas.py", "tests/test_db_files.py", "tests/test_forensics.py"),
    ),
}


def _project_files() -> list[str]:
    """The work tree as git sees it: tracked files and new ones not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


def _toml_list(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def prepare(name: str, module: Module) -> Path:
    """A fresh copy of the project with this module's mutmut configuration."""
    where = WORK / name
    if where.exists():
        shutil.rmtree(where)
    for relative in _project_files():
        target = where / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, target)
    config = f"""
[tool.mutmut]
source_paths = ["bot", "handlers", "storage"]
only_mutate = [{json.dumps(module.path)}]
also_copy = ["manifest.json", "README.md", "DEPLOY.md", "SECURITY.md", "bench", ".ci"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]
pytest_add_cli_args_test_selection = {_toml_list(module.tests)}
"""
    with (where / "pyproject.toml").open("a") as out:
        out.write(config)
    return where


def mutmut(where: Path, *args: str) -> int:
    command = [sys.executable, "-m", "mutmut", *args]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(command, cwd=where, env=env, check=False).returncode


def results(where: Path, module: Module) -> dict[str, str]:
    """Each selected mutant's status, as mutmut stored it."""
    from fnmatch import fnmatchcase

    from mutmut.stats import status_by_exit_code

    meta = json.loads((where / "mutants" / f"{module.path}.meta").read_text())
    return {
        mutant: status_by_exit_code[code]
        for mutant, code in sorted(meta["exit_code_by_key"].items())
        if any(fnmatchcase(mutant, pattern) for pattern in module.functions)
    }


KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def report(name: str, statuses: dict[str, str]) -> float:
    killed = sum(status in KILLED for status in statuses.values())
    total = len(statuses)
    score = 100.0 * killed / total if total else 100.0
    print(f"\n== {name}: {killed}/{total} killed ({score:.1f}%)")
    for mutant, status in statuses.items():
        if status not in KILLED:
            print(f"   {status:12} {mutant}")
    return score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULES))
    parser.add_argument("--max-children", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=90.0)
    parser.add_argument(
        "--report-only", action="store_true", help="print the last run's results again"
    )
    args = parser.parse_args(argv)
    names = args.modules or list(MODULES)
    unknown = [name for name in names if name not in MODULES]
    if unknown:
        parser.error(f"unknown module {unknown[0]}; choose from {', '.join(MODULES)}")
    scores: dict[str, float] = {}
    for name in names:
        module = MODULES[name]
        where = WORK / name
        if not args.report_only:
            where = prepare(name, module)
            code = mutmut(where, "run", "--max-children", str(args.max_children), *module.functions)
            if code != 0:
                print(f"mutmut failed on {name} (exit {code})", file=sys.stderr)
                return code
        scores[name] = report(name, results(where, module))
    print()
    for name, score in scores.items():
        print(f"{name:14} {score:5.1f}%")
    low = [name for name, score in scores.items() if score < args.threshold]
    if low:
        print(f"below {args.threshold:.0f}%: {', '.join(low)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
