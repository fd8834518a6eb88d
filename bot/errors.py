"""Domain errors. Their messages are written for the person who caused them and
never carry a signer's id, name or text."""


class DomainError(Exception):
    """A request the domain refuses, with a message fit to show the user."""


class CampaignNotFound(DomainError):
    def __init__(self, slug: str, known: list[str]) -> None:
        self.slug = slug
        self.known = known
        super().__init__("no such campaign")


class InvalidCampaign(DomainError):
    """A campaign file or edit that breaks a rule; the message names the field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class NotAnOrganizer(DomainError):
    def __init__(self) -> None:
        super().__init__("only the campaign's organizers can do this")


class DemandsLocked(InvalidCampaign):
    """People signed this text: it cannot change under them."""
