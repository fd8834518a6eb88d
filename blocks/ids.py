"""The identifiers handlers match a click, a form or a field on: action ids,
callback ids, block ids and the values of choices. The surfaces here and the
listeners in handlers/ both name them from this module.
"""

from __future__ import annotations

from petition.campaign_spec import MAX_DEMANDS

# Reading and signing a campaign: /demands, the channel's card, the DM, Home.
SIGN_ACTION = "sign_start"
SHOW_ACTION = "campaign_show"
FOLLOW_ACTION = "news_follow"
QUICK_SIGN_ACTION = "sign_quick"
SIGN_CHANGE_ACTION = "sign_change"
SIGN_VIEW = "sign_submit"
WITHDRAW_ACTION = "withdraw_start"
WITHDRAW_VIEW = "withdraw_submit"

# The signing form's fields, and the values of its choices.
HOW_BLOCK = "how"
HOW_ACTION = "choice"
NAME_BLOCK = "name"
NAME_ACTION = "name"
ANONYMOUS = "anonymous"
NAMED = "named"
CONDITIONAL = "conditional"
THRESHOLD_BLOCK = "threshold"
THRESHOLD_OTHER_BLOCK = "threshold_other"
UPDATES_BLOCK = "updates"
UPDATES_VALUE = "news"

# The buttons of a long list (blocks/paging.py).
PAGE_ACTION = "page"  # the "Next" button of a paged list
PAGE_BACK_ACTION = "page_back"

# An organizer trying a draft's signing form.
PREVIEW_SIGN_ACTION = "preview_sign"
PREVIEW_SIGN_VIEW = "preview_sign_submit"

# The organizer view and its forms.
ADMIN_NEW = "admin_new"
ADMIN_EDIT = "admin_edit"
ADMIN_OPEN = "admin_open"
ADMIN_CLOSE = "admin_close"
ADMIN_REOPEN = "admin_reopen"
ADMIN_HISTORY = "admin_history"
ADMIN_DUPLICATE = "admin_duplicate"
ADMIN_LETTER_MD = "admin_letter_md"
ADMIN_LETTER_HTML = "admin_letter_html"
ADMIN_FORGET = "admin_forget"
ADMIN_ARCHIVE = "admin_archive"
ADMIN_UNARCHIVE = "admin_unarchive"
ADMIN_SAVE_VIEW = "admin_save"
ADMIN_FORGET_VIEW = "admin_forget_confirm"
FORGET_CONFIRM_BLOCK = "confirm"
FORGET_CONFIRM_ACTION = "slug"

# News to signers: the organizer's form.
ADMIN_UPDATE = "admin_update"
ADMIN_UPDATE_VIEW = "admin_update_preview"
ADMIN_UPDATE_SEND_VIEW = "admin_update_send"
UPDATE_KIND_BLOCK = "kind"
UPDATE_TEXT_BLOCK = "text"
UPDATE_SEND_BLOCK = "send"

DEMAND_BLOCK = "demand_{}"  # demand_1 ... demand_20, in order


def demand_block_ids(count: int = MAX_DEMANDS) -> list[str]:
    return [DEMAND_BLOCK.format(n) for n in range(1, count + 1)]
