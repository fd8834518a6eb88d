"""The baseline: a bare slack_bolt App whose listeners only acknowledge.

Served by the same WSGI wrapper (bot.server.SlackWSGI: signature check, body
limits) on the same waitress server and thread count as `python -m bot serve`,
so that project/bare measures what our handlers, middleware and storage cost on
top of Bolt and the HTTP stack. Run by bench/run.py, not by hand.

With --answer-dms it is the least a Bolt app that answers a direct message can
be: its message listener makes the one Web API call an answer takes (one
chat.postEphemeral, with Bolt's own client) and nothing else. The benchmark
runs it beside `status`, whose answer is such a call.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.server import SlackWSGI, serve
from storage.db import Database


def acknowledge(ack: Ack) -> None:
    ack()


def answer(event: dict[str, Any], client: WebClient) -> None:
    client.chat_postEphemeral(channel=event["channel"], user=event["user"], text="Noted.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--database-url", required=True, help="only for GET /healthz")
    parser.add_argument(
        "--answer-dms", action="store_true", help="answer each DM with one chat.postEphemeral"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    secret = os.environ["SLACK_SIGNING_SECRET"]
    client = WebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"], timeout=5
    )
    # Configured like bot.app.create_app: the same client, auth.test at start-up
    # and listeners that finish before the answer goes back.
    app = App(client=client, signing_secret=secret, process_before_response=True)
    app.command("/demands")(acknowledge)
    app.view("sign_submit")(acknowledge)
    app.event("message")(answer if args.answer_dms else acknowledge)
    db = Database.from_url(args.database_url)
    # Served as `python -m bot serve` serves the app: events acknowledged first.
    wsgi = SlackWSGI(app, db, secret, events_first_acknowledged=True)
    serve(wsgi, "127.0.0.1", args.port, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
