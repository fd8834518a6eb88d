"""Domain errors. Their messages are written for the person who caused them and
never carry a signer's id, name or text."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses, with a message fit to show the user."""


class CampaignNotFound(DomainError):
    def __init__(self, slug: str, known: list[str]) -> None:
        self.slug = slug
        self.known = known
        super().__init__("no such campaign")


class InvalidCampaign(DomainError):
    """A campaign file or edit that breaks rules: every problem found, each with the
    field it is about (a campaign file's key), so that a form can show them all at
    once beside their fields and a file's errors can be fixed in one go."""

    def __init__(
        self,
        message: str,
        field: str | None = None,
        problems: list[tuple[str | None, str]] | None = None,
    ) -> None:
        self.problems = problems or [(field, message)]
        self.field = self.problems[0][0]
        super().__init__(self.problems[0][1] if problems else message)

    @classmethod
    def of(cls, problems: list[tuple[str | None, str]]) -> InvalidCampaign:
        return cls(problems[0][1], problems[0][0], problems)


class NotAnOrganizer(DomainError):
    def __init__(self) -> None:
        super().__init__("only the campaign's organizers can do this")


class DemandsLocked(InvalidCampaign):
    """People signed this text: it cannot change under them."""


class CampaignIsDraft(DomainError):
    """A draft has no card: workers could not find or sign what it shows."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__(f"`{slug}` is a draft: open it before posting its card.")


class NoSignerKey(DomainError):
    """The process was started without SIGNER_KEY: nobody can sign or be found."""

    def __init__(self) -> None:
        super().__init__(
            "SIGNER_KEY is not set: run `python -m bot keygen` and put the line it "
            "prints in .env (keep it outside the database and its backups)"
        )
