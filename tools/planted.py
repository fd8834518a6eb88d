"""The bugs of issue 23 that once passed the suite, planted again one at a time.

    python tools/planted.py [NUMBER ...]

Each bug is planted in a copy of the project (build/planted/N/), never in the work
tree, and the tests named for it are run there: each must fail. A bug whose tests
pass is reported and the command exits non-zero. tests/MUTATION.md has the table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "build" / "planted"


@dataclass(frozen=True)
class Planted:
    what: str
    path: str
    original: str
    planted: str
    tests: tuple[str, ...]


BUGS: dict[str, Planted] = {
    "1a": Planted(
        "the signer identity ignores the workspace id (in the digest)",
        "petition/keyring.py",
        'message = f"slack:{scope}:{user}".encode()',
        'message = f"slack::{user}".encode()',
        (
            "tests/test_keyring.py::test_a_person_digest_is_the_hmac_of_scope_and_user",
            "tests/test_keyring.py::test_what_changes_the_person_digest",
            "tests/test_signing.py::test_sign_anonymously",
        ),
    ),
    "1b": Planted(
        "the signer identity ignores the workspace id (where a request is identified)",
        "handlers/identity.py",
        "context[_SIGNER] = signer = worker.person(person.scope, person.user)",
        'context[_SIGNER] = signer = worker.person("", person.user)',
        (
            "tests/test_signing.py::test_sign_anonymously",
            "tests/test_bystanders.py::test_a_signature_is_stored_under_the_value_worked_out_by_hand",
        ),
    ),
    "2": Planted(
        "escape() does nothing",
        "blocks/kit.py",
        'return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")',
        "return text",
        (
            "tests/test_escaping.py::test_escape_known_answers",
            "tests/test_escaping.py::test_hostile_campaign_text_is_escaped_on_every_surface",
            "tests/test_escaping.py::test_an_unknown_slug_is_echoed_escaped",
            "tests/test_demands.py::test_an_unknown_slug_is_escaped_when_echoed",
        ),
    ),
    "3": Planted(
        "a withdrawal deletes every signature of the campaign",
        "petition/signatures.py",
        """            delete(Signature).where(
                Signature.campaign_id == campaign.id, Signature.signer_hash == signer
            )""",
        """            delete(Signature).where(Signature.campaign_id == campaign.id)""",
        (
            "tests/test_bystanders.py::test_withdrawing_leaves_every_other_row_exactly_as_it_was",
            "tests/test_domain_signatures.py::test_remove_signature_removes_one_row",
        ),
    ),
    "4a": Planted(
        "PRAGMA secure_delete=OFF",
        "storage/db.py",
        'cursor.execute("PRAGMA secure_delete=ON")',
        'cursor.execute("PRAGMA secure_delete=OFF")',
        (
            "tests/test_sqlite_pragmas.py::test_every_connection_gets_the_pragmas",
            "tests/test_sqlite_pragmas.py::test_a_withdrawn_name_and_a_changed_choice_leave_the_files",
            "tests/test_forensics.py::test_a_copy_of_the_server_links_orders_and_names_nobody",
        ),
    ),
    "4b": Planted(
        "scrub (the forget's and the minute's compaction) without its WAL checkpoint",
        "storage/db.py",
        '"PRAGMA wal_checkpoint(TRUNCATE)"  # pragma: no mutate',
        '"SELECT 0, 0, 0"',
        (
            "tests/test_db_files.py::test_scrubbing_empties_the_wal",
            "tests/test_sqlite_pragmas.py::test_a_withdrawn_name_and_a_changed_choice_leave_the_files",
            "tests/test_forensics.py::test_a_copy_of_the_server_links_orders_and_names_nobody",
        ),
    ),
    "5": Planted(
        "a milestone is counted only above its threshold, not at it",
        "petition/announcements.py",
        "m.threshold for m in campaign.milestones if m.threshold <= campaign.signature_count",
        "m.threshold for m in campaign.milestones if m.threshold < campaign.signature_count",
        ("tests/test_milestone_boundaries.py::test_a_milestone_is_announced_at_its_threshold",),
    ),
    "6": Planted(
        "a section's text limit of 30,000 instead of 3,000",
        "blocks/limits.py",
        "SECTION_TEXT = 3000",
        "SECTION_TEXT = 30_000",
        (
            "tests/test_slackcheck.py::test_slacks_documented_limits_are_the_ones_checked",
            "tests/test_slackcheck.py::test_long_campaign_text_is_split_within_a_sections_limit",
        ),
    ),
}


def _project_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


def plant(number: str, bug: Planted) -> Path:
    where = WORK / number
    if where.exists():
        shutil.rmtree(where)
    for relative in _project_files():
        target = where / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, target)
    source = where / bug.path
    text = source.read_text()
    if text.count(bug.original) != 1:
        raise SystemExit(f"bug {number}: the code to replace is not in {bug.path} once")
    source.write_text(text.replace(bug.original, bug.planted))
    return where


def run_test(where: Path, test: str) -> bool:
    """Whether the test passed on the planted copy."""
    env = {**os.environ, "PYTHONPATH": str(where), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x", test],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1):
        print(result.stdout[-3000:], result.stderr[-3000:])
        raise SystemExit(f"{test} did not run (exit {result.returncode})")
    return result.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bugs", nargs="*", metavar="NUMBER", help=", ".join(BUGS))
    args = parser.parse_args(argv)
    missed = []
    for number in args.bugs or list(BUGS):
        bug = BUGS[number]
        where = plant(number, bug)
        print(f"bug {number}: {bug.what}")
        for test in bug.tests:
            passed = run_test(where, test)
            print(f"   {'PASSED (missed it)' if passed else 'failed (caught it)':20} {test}")
            if passed:
                missed.append((number, test))
        shutil.rmtree(where)
    if missed:
        print("\nmissed:", ", ".join(f"{n} by {t}" for n, t in missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
