"""Who may sign: full members of the workspace, decided from Slack's users.info."""

from __future__ import annotations

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
    profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    for candidate in (
        profile.get("real_name"),
        user.get("real_name"),
        profile.get("display_name"),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None
