"""The enums a campaign's plain results carry (a campaign's status, the kind of an
update), named here for the layers above petition.

They are storage's own enums, not copies: a CampaignSpec or CampaignView already
holds a `storage.models.CampaignStatus`, and a second enum with the same values
would compare unequal to it. Listeners take them from here so that they never
reach into storage to read a result petition handed them."""

from __future__ import annotations

from storage.models import CampaignStatus, UpdateKind

__all__ = ["CampaignStatus", "UpdateKind"]
