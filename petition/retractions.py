"""News DMs, deleted when they could say someone signed.

A news DM stays in the signer's DM, and a Slack export shows it: read with the
signing form, it hints that the person signed. So the bot keeps track of each
news DM it sends (its channel and ts, sealed under the campaign's key), and
deletes them (chat.delete) when the person stops news, withdraws, or the
campaign is forgotten. In between, the places wait in `news_retractions`, sealed
under a key derived from SIGNER_KEY (forgetting destroys the campaign's key
first), with nothing that says whose or which campaign's they were; each row goes
once Slack has deleted its message.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from petition.keyring import ADDRESS_PAD, CampaignKeys, CannotOpen, Keyring
from storage.direct import DirectCursor, of
from storage.models import NewsPost, NewsRetraction, table

_CONTEXT = "news-post:{campaign_id}"
# The context of a queued place, sealed here and opened by the job that deletes it
# (jobs/retract.py).
WAITING = "news-retraction"


def _ref(channel: str, ts: str) -> str:
    return f"{channel}\n{ts}"


def record_post(
    unit: Session | DirectCursor,
    keys: CampaignKeys,
    campaign_id: int,
    signer: str,
    channel: str,
    ts: str,
) -> None:
    """Remember where a news DM went, to delete it later."""
    sealed = keys.seal(_ref(channel, ts), _CONTEXT.format(campaign_id=campaign_id), ADDRESS_PAD)
    of(unit).run(
        insert(table(NewsPost)).values(
            campaign_id=campaign_id, signer_hash=signer, sealed_ref=sealed
        )
    )


def queue(
    session: Session,
    keyring: Keyring,
    campaign_id: int,
    key_id: str | None,
    signer: str | None = None,
) -> int:
    """Queue for deletion the news DMs sent to one subscriber of a campaign (or, with
    no `signer`, to all of them); how many."""
    mine = NewsPost.campaign_id == campaign_id
    if signer is not None:
        mine = mine & (NewsPost.signer_hash == signer)
    sealed = list(session.scalars(select(NewsPost.sealed_ref).where(mine)))
    if not sealed:
        return 0
    session.execute(delete(NewsPost).where(mine).execution_options(synchronize_session=False))
    if key_id is None:
        return 0
    keys, waiting = keyring.campaign(key_id), keyring.retractions
    rows = []
    for token in sealed:
        try:
            place = keys.open(token, _CONTEXT.format(campaign_id=campaign_id))
        except CannotOpen:
            continue
        rows.append({"sealed_ref": waiting.seal(place, WAITING, ADDRESS_PAD)})
    if rows:
        session.execute(insert(table(NewsRetraction)), rows)
    return len(rows)
