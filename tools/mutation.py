"""Mutation testing of the core modules with mutmut, one module at a time.

    python tools/mutation.py [MODULE ...] [--max-children N] [--report-only]
                             [--tests FILE ...] [--mutants NAME ...]

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
    # Signing and withdrawing. Not test_grid_moves: its end-to-end tests cost a mutant
    # of `sign` about 40 seconds (hours for the module on two cores), and
    # test_adopt_signer checks a Grid move's rows more closely.
    "signatures": Module(
        "petition/signatures.py",
        _all("petition/signatures.py"),
        (
            "tests/test_domain_signatures.py",
            "tests/test_bystanders.py",
            "tests/test_rewrite.py",
            "tests/test_direct.py",
            "tests/test_adopt_signer.py",
            "tests/test_withdrawn_news.py",
            "tests/test_signer_overview.py",
            "tests/test_signing_details.py",
        ),
    ),
    # Identities and sealing.
    "keyring": Module(
        "petition/keyring.py",
        _all("petition/keyring.py"),
        ("tests/test_keyring.py", "tests/test_known_answers.py", "tests/test_rekey.py"),
    ),
    "sealing": Module(
        "petition/sealing.py",
        _all("petition/sealing.py"),
        ("tests/test_known_answers.py", "tests/test_keyring.py"),
    ),
    "eligibility": Module(
        "petition/eligibility.py",
        _all("petition/eligibility.py"),
        ("tests/test_known_answers.py", "tests/test_eligibility.py", "tests/test_form_pass.py"),
    ),
    # Announcements. Not the end-to-end test_announcements and test_channels (up to
    # half a minute of tests a mutant): test_announcement_rows checks every function's
    # rows on a real database, other campaigns and channels beside them included.
    "announcements": Module(
        "petition/announcements.py",
        _all("petition/announcements.py"),
        ("tests/test_milestone_boundaries.py", "tests/test_announcement_rows.py"),
    ),
    # Escaping and limits: the helpers every surface's text goes through.
    "blocks": Module(
        "blocks/kit.py",
        tuple(
            f"blocks.kit.x_{name}__mutmut_*"
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
        ("tests/test_escaping.py", "tests/test_text_fitting.py", "tests/test_slackcheck.py"),
    ),
    "slackcheck": Module(
        "console/slackcheck.py",
        _all("console/slackcheck.py"),
        ("tests/test_slackcheck.py", "tests/test_fakeslack.py"),
    ),
    # The SQLite pragmas, the WAL's scrub, the file's permissions and a backup's check.
    "db": Module(
        "storage/db.py",
        tuple(
            f"storage.db.x_{name}__mutmut_*"
            for name in ("_on_sqlite_connect", "_on_sqlite_begin", "_owner_only", "check_integrity")
        )
        + tuple(
            f"storage.db.xǁDatabaseǁ{name}__mutmut_*"
            for name in ("scrub", "scrub_until_done", "backup")
        ),
        (
            "tests/test_sqlite_pragmas.py",
            "tests/test_data_safety.py",
            "tests/test_db_files.py::test_scrubbing_empties_the_wal",
            "tests/test_db_files.py::test_an_existing_file_is_made_owner_only_without_being_opened",
            "tests/test_db_files.py::test_another_engine_in_the_process_keeps_its_locks",
        ),
    ),
}


# What `make mutation` runs when no module is named. slackcheck (the strict fake's
# checker, test equipment rather than product) has over a thousand mutants: by name only.
CORE = ("signatures", "keyring", "sealing", "eligibility", "announcements", "blocks", "db")


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


def prepare(name: str, module: Module, where: Path | None = None) -> Path:
    """A fresh copy of the project with this module's mutmut configuration."""
    where = where or WORK / name
    if where.exists():
        shutil.rmtree(where)
    for relative in _project_files():
        target = where / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, target)
    config = f"""
[tool.mutmut]
source_paths = ["blocks", "bot", "console", "handlers", "petition", "storage"]
only_mutate = [{json.dumps(module.path)}]
also_copy = [
    "manifest.json", "README.md", "ORGANIZERS.md", "WORKERS.md", "ENGINEERING.md",
    "DEPLOY.md", "SECURITY.md", "ARCHITECTURE.md", "bench", ".ci",
]
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
    parser.add_argument(
        "--tests",
        nargs="+",
        metavar="FILE",
        help="run these tests instead of the module's own (one module; the copy is "
        "build/mutation/MODULE-tests/, apart from the module's full run)",
    )
    parser.add_argument(
        "--mutants",
        nargs="+",
        metavar="NAME",
        help="run only these mutants (mutmut's names or globs), again if run before, in "
        "the module's copy as it is (made afresh only if there is none)",
    )
    args = parser.parse_args(argv)
    names = args.modules or list(CORE)
    unknown = [name for name in names if name not in MODULES]
    if unknown:
        parser.error(f"unknown module {unknown[0]}; choose from {', '.join(MODULES)}")
    if args.tests and len(names) != 1:
        parser.error("--tests needs exactly one module")
    scores: dict[str, float] = {}
    for name in names:
        module = MODULES[name]
        where = WORK / name
        if args.tests:
            module = Module(module.path, module.functions, tuple(args.tests))
            where = WORK / f"{name}-tests"
        if not args.report_only:
            if not args.mutants or not (where / "mutants").exists():
                where = prepare(name, module, where)
            selected = args.mutants or module.functions
            code = mutmut(where, "run", "--max-children", str(args.max_children), *selected)
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
