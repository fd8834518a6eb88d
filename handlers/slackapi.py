"""Calls to Slack's Web API that the handlers share, with failures mapped to
something a person can act on."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

import blocks
from blocks.limits import retry_after_seconds
from handlers.pacing import Later

logger = logging.getLogger(__name__)


class SlackUnavailable(Exception):
    """Slack could not answer now (rate limit, outage, timeout); try again later."""

    def __init__(self, method: str, retry_after: int | None = None) -> None:
        self.method = method
        self.retry_after = retry_after
        super().__init__(f"{method} unavailable")


def retry_after(error: SlackApiError) -> int | None:
    """Slack's Retry-After on a rate-limited call, in whole seconds (at least 1)."""
    return retry_after_seconds(getattr(error.response, "headers", None))


class Stranger(Exception):
    """Slack does not show this person to the app as a member of its workspace or
    organization (a Slack Connect user, say): nobody the app can act for."""


# users.info's answers for someone the app may not see: not a busy Slack, and
# asking again will not change them.
_NOT_VISIBLE = {"user_not_found", "user_not_visible", "users_not_found"}


def fetch_user(client: WebClient, user_id: str) -> dict[str, Any]:
    """users.info's `user`; SlackUnavailable, or Stranger for someone Slack does not
    show the app. The user id is never logged."""
    try:
        response = client.users_info(user=user_id)
    except SlackApiError as error:
        status = getattr(error.response, "status_code", None)
        code = error.response.get("error") if error.response is not None else None
        if code in _NOT_VISIBLE:
            logger.info("users.info does not show this person to the app (error %s)", code)
            raise Stranger() from None
        logger.warning("users.info failed (status %s, error %s)", status, code)
        raise SlackUnavailable("users.info", retry_after(error)) from None
    except (SlackClientError, OSError) as error:
        logger.warning("users.info failed: %s", type(error).__name__)
        raise SlackUnavailable("users.info") from None
    user = response.get("user")
    if not isinstance(user, dict):
        logger.warning("users.info answered without a user object")
        raise SlackUnavailable("users.info")
    return user


def call_quietly(method: str, call: Any, **kwargs: Any) -> bool:
    """Make a Web API call whose failure should not undo what was already done."""
    try:
        call(**kwargs)
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else None
        logger.warning("%s failed (error %s)", method, code)
        return False
    except (SlackClientError, OSError) as error:
        logger.warning("%s failed: %s", method, type(error).__name__)
        return False
    return True


def _unavailable(method: str, error: Exception) -> SlackUnavailable:
    if isinstance(error, SlackApiError):
        code = error.response.get("error") if error.response is not None else None
        logger.warning("%s failed (error %s)", method, code)
        return SlackUnavailable(method, retry_after(error))
    logger.warning("%s failed: %s", method, type(error).__name__)
    return SlackUnavailable(method)


def check_channel(client: WebClient, channel_id: str, field: str = "channel") -> None:
    """Raise InvalidCampaign (naming the form's `field`) unless the bot can post in
    this channel."""
    from petition.errors import InvalidCampaign

    try:
        response = client.conversations_info(channel=channel_id)
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else None
        if code in {"channel_not_found", "not_in_channel"}:
            which = "this channel" if field == "channel" else "one of these channels"
            raise InvalidCampaign(
                f"The bot cannot see {which}. If it is private, invite the bot first: "
                "/invite @Undersigned",
                field,
            ) from None
        raise _unavailable("conversations.info", error) from None
    except (SlackClientError, OSError) as error:
        raise _unavailable("conversations.info", error) from None
    channel = response.get("channel") or {}
    # Among several channels, say which one (a form's error is plain text: a name).
    name = channel.get("name")
    which = "this channel" if field == "channel" or not name else f"#{name}"
    if channel.get("is_archived"):
        raise InvalidCampaign(f"{which[0].upper()}{which[1:]} is archived; choose another.", field)
    if not channel.get("is_member"):
        raise InvalidCampaign(
            f"The bot is not in {which} yet: type /invite @Undersigned there, then save.",
            field,
        )


def send_file_dm(client: WebClient, user_id: str, filename: str, content: str, title: str) -> None:
    """Upload a file into the bot's DM with this person."""
    try:
        opened = client.conversations_open(users=user_id)
        channel = (opened.get("channel") or {}).get("id")
        client.files_upload_v2(channel=channel, filename=filename, content=content, title=title)
    except (SlackApiError, SlackClientError, OSError) as error:
        raise _unavailable("files.upload", error) from None


def open_form(client: WebClient, trigger_id: Any, view: dict[str, Any]) -> SlackUnavailable | None:
    """views.open for a click: None once open, else why not (logged)."""
    if not trigger_id:
        logger.warning("a form could not be opened: the click carried no trigger_id")
        return SlackUnavailable("views.open")
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, SlackClientError, OSError) as error:
        return _unavailable("views.open", error)
    return None


def say_form_not_opened(body: dict[str, Any], failure: SlackUnavailable | None = None) -> None:
    """A click whose form Slack did not open would look like a dead button: say so
    under the message clicked (its response URL), which stays to be clicked again,
    and when, if Slack said. A click on the Home tab carries no response URL; the
    tab is still there."""
    url = body.get("response_url")
    if not isinstance(url, str) or not url:
        return
    wait = failure.retry_after if failure is not None else None
    try:
        Respond(response_url=url)(
            text=blocks.form_not_opened_text(wait),
            response_type="ephemeral",
            replace_original=False,
        )
    except Exception:  # Slack is failing already; the caller's log line says why
        logger.info("could not say that a form did not open")


def answer_privately(
    client: WebClient, later: Later, channel: str, user: str, text: str, content: Any
) -> bool:
    """An ephemeral answer in a conversation (the DM). Rate limited for longer than
    the client waits, it is sent once Slack allows, in the order people asked
    (handlers/pacing.Later), so that whoever asked still gets the answer. True if
    it went now."""

    def post() -> None:
        client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=content)

    def post_late() -> None:
        client.chat_postEphemeral(
            channel=channel, user=user, text=text, blocks=blocks.held_back(content)
        )

    return later.call("chat.postEphemeral", post, late=post_late)
