"""Many signers at once on one SQLite file: every signature counted exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from bot.fakeslack import FakeUser
from storage.models import Signature
from tests.conftest import RunningBot
from tests.test_signing import SLUG, open_sign_form, sign_values

SIGNERS = 40


def test_forty_concurrent_signers_are_counted_exactly(running_bot: RunningBot, database_url):
    bot = running_bot
    bot.import_campaign()
    users = [FakeUser(f"U0CONC{i:04d}", f"w{i}", f"Worker {i}") for i in range(SIGNERS)]
    for user in users:
        bot.fake.workspace.add_user(user)
    form = open_sign_form(bot, users[0].id)

    def sign_twice(user: FakeUser) -> list[str]:
        # Each signer clicks, submits, and double-submits: the second must not count.
        assert bot.slack.click("sign_start", SLUG, user=user.id).status == 200
        answers = []
        for _ in range(2):
            how = "named" if int(user.id[-1]) % 2 else "anonymous"
            result = bot.slack.submit(form, sign_values(how, user.real_name), user=user.id)
            assert result.status == 200
            answers.append(json.loads(result.body)["view"]["title"]["text"])
        return answers

    with ThreadPoolExecutor(max_workers=SIGNERS) as pool:
        answers = list(pool.map(sign_twice, users))
    assert answers == [["Signed", "Already signed"]] * SIGNERS

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["DATABASE_URL"] = database_url
    listed = subprocess.run(
        [sys.executable, "-m", "bot", "campaign", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    [campaign] = json.loads(listed.stdout)
    assert campaign["signatures"] == SIGNERS
    with bot.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Signature)) == SIGNERS
    # No error answer reached anyone (the error modal names a reference).
    errors = [
        c for c in bot.fake.calls_to("views.open") if "Something went wrong" in json.dumps(c.params)
    ]
    assert errors == []
