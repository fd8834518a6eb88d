"""The letter delivered to the employer: statement, demands, exact count, date, and
the names of those who chose to sign with their name. Anonymous signers are only
in the count."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.errors import DomainError
from bot.keyring import Keyring, name_context
from bot.organizing import Organizers, managed_campaign, record
from bot.signatures import naming_state
from storage.models import Campaign, Signature

FORMATS = ("md", "html")


@dataclass(frozen=True)
class Letter:
    slug: str
    title: str
    statement: str
    demands: tuple[str, ...]
    count: int
    date: dt.date
    names: tuple[str, ...]
    # The signers were forgotten: the count stays, the names went with the key.
    forgotten: bool = False

    @property
    def anonymous(self) -> int:
        return max(0, self.count - len(self.names))


def public_names(names: list[str]) -> tuple[str, ...]:
    """One entry per person, sorted without regard to case. Two people who signed
    as "John Smith" are two entries: a letter counts people, never spellings."""
    tidy = (" ".join(name.split()) for name in names)
    return tuple(sorted((n for n in tidy if n), key=lambda n: (n.casefold(), n)))


def named_today(session: Session, campaign: Campaign, keyring: Keyring | None) -> list[str]:
    """Everyone the letter names: public signers, and the conditional signers that
    the rule names today. Every name is sealed under the campaign's key."""
    _, cutoff = naming_state(session, campaign.id)
    named = Signature.named.is_(True)
    if cutoff is not None:
        named = or_(
            named,
            and_(Signature.name_threshold.is_not(None), Signature.name_threshold <= cutoff),
        )
    sealed = [
        token
        for token in session.scalars(
            select(Signature.sealed_name).where(Signature.campaign_id == campaign.id, named)
        )
        if token
    ]
    if not sealed:
        return []
    if keyring is None or campaign.key_id is None:
        raise DomainError(
            "the names are sealed under the campaign's key: run this with SIGNER_KEY and "
            "KEY_STORE set as the bot has them (after a console rehearsal, DATABASE_URL of "
            "the rehearsal and its .console-key as SIGNER_KEY)"
        )
    keys = keyring.campaign(campaign.key_id)
    return [keys.open(token, name_context(campaign.id)) for token in sealed]


def build_letter(
    session: Session,
    organizers: Organizers,
    actor: str,
    slug: str,
    today: dt.date,
    keyring: Keyring | None = None,
) -> Letter:
    campaign = managed_campaign(session, organizers, actor, slug)
    names = named_today(session, campaign, keyring)
    record(session, actor, "letter", slug)
    return Letter(
        slug=campaign.slug,
        title=campaign.title,
        statement=campaign.statement,
        demands=tuple(d.text for d in campaign.demands),
        count=campaign.signature_count,
        date=today,
        names=public_names(names),
        forgotten=campaign.forgotten_at is not None,
    )


def _long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _count_sentence(letter: Letter) -> str:
    people = "person has" if letter.count == 1 else "people have"
    sentence = f"{letter.count:,} {people} signed this letter"
    if letter.forgotten:
        return sentence + "; their names were deleted when the campaign's signers were forgotten."
    if letter.names and letter.anonymous:
        sentence += f": {len(letter.names):,} with their name, {letter.anonymous:,} anonymously"
    elif letter.count and not letter.names:
        sentence += ", all of them anonymously"
    return sentence + "."


# Enough to make any name plain text; CommonMark lets any ASCII punctuation be escaped.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>&|~!#])")
_MD_LINE_START = re.compile(r"^(\s*)([-+]|\d+[.)])(\s)")


def _md(text: str) -> str:
    """Escape Markdown so that a name such as `<script>` or `**x**` is just text."""
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    escaped = _MD_LINE_START.sub(lambda m: m[1] + "\\" + m[2] + m[3], escaped)
    return escaped.replace("\n", "  \n")


def render_markdown(letter: Letter) -> str:
    lines = [f"# {_md(letter.title)}", "", f"*{_long_date(letter.date)}*", ""]
    lines += [_md(paragraph) for paragraph in letter.statement.split("\n")]
    lines += ["", "## Our demands", ""]
    lines += [f"{n}. {_md(d)}" for n, d in enumerate(letter.demands, start=1)]
    lines += ["", "## Signatures", "", _count_sentence(letter), ""]
    lines += [f"- {_md(name)}" for name in letter.names]
    return "\n".join(lines).rstrip() + "\n"


_HTML_STYLE = """
  @page { size: A4; margin: 2.2cm 2cm; }
  body { font-family: Georgia, 'Times New Roman', serif; font-size: 11.5pt;
         line-height: 1.45; color: #000; max-width: 42em; margin: 2em auto; }
  h1 { font-size: 20pt; margin: 0 0 .2em; }
  h2 { font-size: 13pt; margin: 1.6em 0 .5em; border-bottom: 1px solid #999; }
  .date { color: #333; margin-bottom: 1.5em; }
  .statement p { margin: 0 0 .8em; }
  ol.demands li { margin-bottom: .4em; page-break-inside: avoid; }
  ul.names { list-style: none; padding: 0; columns: 3; column-gap: 2em; }
  ul.names li { break-inside: avoid; padding: .1em 0; }
  @media print { body { margin: 0; max-width: none; } }
"""


def render_html(letter: Letter) -> str:
    e = html.escape
    paragraphs = "\n".join(
        f"    <p>{e(p)}</p>" for p in letter.statement.split("\n\n") if p.strip()
    )
    demands = "\n".join(f"    <li>{e(d)}</li>" for d in letter.demands)
    names = "\n".join(f"    <li>{e(n)}</li>" for n in letter.names)
    names_block = f'  <ul class="names">\n{names}\n  </ul>\n' if letter.names else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{e(letter.title)}</title>\n<style>{_HTML_STYLE}</style>\n</head>\n<body>\n"
        f"  <h1>{e(letter.title)}</h1>\n"
        f'  <p class="date">{e(_long_date(letter.date))}</p>\n'
        f'  <div class="statement">\n{paragraphs}\n  </div>\n'
        f'  <h2>Our demands</h2>\n  <ol class="demands">\n{demands}\n  </ol>\n'
        f"  <h2>Signatures</h2>\n  <p>{e(_count_sentence(letter))}</p>\n"
        f"{names_block}"
        "</body>\n</html>\n"
    )


def render(letter: Letter, fmt: str) -> str:
    return render_html(letter) if fmt == "html" else render_markdown(letter)
