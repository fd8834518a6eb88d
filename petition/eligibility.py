"""Who may sign: full members of the workspace, decided from Slack's users.info.

Eligibility is asked of Slack when the signing form is opened, and the form
carries a pass saying so (see `issue_pass`), so that confirming it does not ask
Slack again: users.info is rate limited (Tier 4, about 100 calls a minute),
which a viral campaign of a large workplace would exceed twice over, and every
call adds a round trip to Slack before the signature can be acknowledged.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from typing import Any

GUEST = (
    "Only full members of this workspace can sign. Guest accounts cannot, because the "
    "campaign speaks for the people who work here."
)
EXTERNAL = (
    "Only members of this organization can sign. Your account belongs to another "
    "organization (Slack Connect)."
)
BOT = "Bots and apps cannot sign."
DEACTIVATED = "This account is deactivated and cannot sign."


def refusal(
    user: dict[str, Any], team_id: str | None, enterprise_id: str | None = None
) -> str | None:
    """Why this Slack user may not sign, or None if they may.

    Works on the `user` object of users.info; unknown or missing flags count
    against signing, so a malformed answer never lets someone through. In an
    Enterprise Grid (`enterprise_id` given) a member of any of the organization's
    workspaces may sign; outside one, only members of this workspace.
    """
    if not isinstance(user, dict) or not user.get("id"):
        return GUEST
    if user.get("is_bot") or user.get("is_workflow_bot") or user.get("id") == "USLACKBOT":
        return BOT
    if user.get("deleted"):
        return DEACTIVATED
    if user.get("is_stranger"):
        return EXTERNAL
    if enterprise_id:
        member_of = user.get("enterprise_user")
        if not isinstance(member_of, dict) or member_of.get("enterprise_id") != enterprise_id:
            return EXTERNAL
    elif team_id and user.get("team_id") and user.get("team_id") != team_id:
        return EXTERNAL
    if user.get("is_restricted") or user.get("is_ultra_restricted") or user.get("is_invited_user"):
        return GUEST
    return None


def suggested_name(user: dict[str, Any]) -> str | None:
    """The name to prefill for a public signature: what colleagues know them by."""
    profile: dict[str, Any] = user["profile"] if isinstance(user.get("profile"), dict) else {}
    for candidate in (
        profile.get("real_name"),
        user.get("real_name"),
        profile.get("display_name"),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


# How long after the form was opened its pass stands in for asking Slack again.
# Long enough to read the demands and think; a form submitted later is checked
# with users.info as before.
PASS_SECONDS = 15 * 60
_PASS_CONTEXT = b"undersigned: eligible to sign"


@functools.lru_cache(maxsize=4)
def _pass_key(key: bytes) -> bytes:
    # A key of its own, derived from SIGNER_KEY, so that a pass can never be
    # mistaken for a signer hash or anything else made with that key.
    return hmac.new(key, _PASS_CONTEXT, hashlib.sha256).digest()


def _pass_mac(key: bytes, minute: int, scope: str, team: str, user: str, slug: str) -> str:
    pass_key = _pass_key(key)
    message = f"{minute}:{scope}:{team}:{user}:{slug}".encode()
    return hmac.new(pass_key, message, hashlib.sha256).hexdigest()[:32]


def issue_pass(
    key: bytes, scope: str, team: str, user: str, slug: str, now: float | None = None
) -> str:
    """A pass for the signing form of `slug`, given once users.info found this
    person eligible: the minute it was issued and a MAC under SIGNER_KEY over that,
    the organization or workspace, the workspace, the user and the campaign.

    It travels in the form's private_metadata (set by the app, returned unchanged
    by Slack in the signed submission). It names nobody: without the key it cannot
    be tied to a person, and it changes every minute.
    """
    minute = int(time.time() if now is None else now) // 60
    return f"{minute}.{_pass_mac(key, minute, scope, team, user, slug)}"


def pass_holds(
    key: bytes,
    token: object,
    scope: str,
    team: str,
    user: str,
    slug: str,
    now: float | None = None,
) -> bool:
    """Whether `token` is a pass this app issued to this person for this campaign
    within the last PASS_SECONDS."""
    if not isinstance(token, str) or token.count(".") != 1:
        return False
    minute_text, mac = token.split(".")
    if not minute_text.isdecimal() or len(minute_text) > 12:
        return False
    minute = int(minute_text)
    age = int(time.time() if now is None else now) - minute * 60
    if not 0 <= age <= PASS_SECONDS + 60:  # issued within the window (to the minute)
        return False
    return hmac.compare_digest(mac, _pass_mac(key, minute, scope, team, user, slug))
