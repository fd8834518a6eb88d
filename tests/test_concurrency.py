"""Many signers at once on one SQLite file: every signature counted exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from console.workspace import FakeUser
from storage.models import Signature
from tests.support.crowds import opened_by
from tests.support.running import RunningBot
from tests.support.signing import SLUG, sign_values

SIGNERS = 40


def test_forty_concurrent_signers_are_counted_exactly(running_bot: RunningBot, database_url):
    bot = running_bot
    bot.import_campaign()
    users = [FakeUser(f"U0CONC{i:04d}", f"w{i}", f"Worker {i}") for i in range(SIGNERS)]
    for user in users:
        bot.fake.workspace.add_user(user)

    def sign_twice(user: FakeUser) -> list[str]:
        # Each signer clicks, submits their form, and double-submits it: the second
        # must not count. (Their own form: it carries their pass, so submitting it
        # does not ask Slack's users.info again, as a borrowed one would.)
        trigger = bot.fake.new_trigger(user.id)
        assert bot.slack.click("sign_start", SLUG, user=user.id, trigger_id=trigger).status == 200
        form = opened_by(bot.fake, trigger)
        assert form is not None
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
