"""The letter delivered to the employer: the addressee, the statement, the demands,
the signing period, the exact count, and the names of those who chose to sign with
their name. Anonymous signers are only in the count.

Counted by person, never by text: every signature is one person, so two people who
both signed as "John Smith" are two names on the letter, and the count always
adds up (named + anonymous = everyone who signed).
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from petition.campaign_spec import last_day_of
from petition.errors import DomainError
from petition.keyring import CannotOpen, KeyMissing, Keyring, name_context
from petition.organizing import Organizers, managed_campaign, record
from petition.signatures import naming_state
from storage.models import Campaign, CampaignStatus, Signature

FORMATS = ("md", "html")
# What a name the letter cannot show reads as; it still counts as a named signer.
UNREADABLE_NAME = "(name not given)"


class NamesSealed(DomainError):
    """The names are sealed under the campaign's key, which this process cannot use."""


@dataclass(frozen=True)
class Letter:
    slug: str
    title: str
    statement: str
    demands: tuple[str, ...]
    # Everyone who signed: the rows of the campaign (the kept count once forgotten).
    count: int
    date: dt.date
    # One entry per named person, sorted; identical names stay separate entries.
    names: tuple[str, ...]
    # The signers were forgotten: the count stays, the names went with the key.
    forgotten: bool = False
    addressee: str | None = None
    # The signing period, as days in the campaign's time zone. `last_day` is None
    # while the campaign is open; `first_day` is None for a draft never opened.
    first_day: dt.date | None = None
    last_day: dt.date | None = None

    @property
    def named(self) -> int:
        return len(self.names)

    @property
    def anonymous(self) -> int:
        return self.count - self.named


def public_names(names: list[str]) -> tuple[str, ...]:
    """One entry per person, sorted without regard to case. Two people who signed
    as "John Smith" are two entries: a letter counts people, never spellings."""
    tidy = (" ".join(name.split()) or UNREADABLE_NAME for name in names)
    return tuple(sorted(tidy, key=lambda n: (n.casefold(), n)))


def _named_rows(campaign_id: int, cutoff: int | None) -> ColumnElement[bool]:
    named: ColumnElement[bool] = Signature.named.is_(True)
    if cutoff is not None:
        named = or_(
            named,
            and_(Signature.name_threshold.is_not(None), Signature.name_threshold <= cutoff),
        )
    return and_(Signature.campaign_id == campaign_id, named)


def named_today(session: Session, campaign: Campaign, keyring: Keyring | None) -> list[str]:
    """Everyone the letter names, one entry per signature: public signers, and the
    conditional signers that the rule names today. Every name is sealed under the
    campaign's key; a named row whose name cannot be read still counts as named."""
    _, cutoff = naming_state(session, campaign.id)
    sealed = list(
        session.scalars(select(Signature.sealed_name).where(_named_rows(campaign.id, cutoff)))
    )
    if not sealed:
        return []
    if keyring is None or campaign.key_id is None:
        raise NamesSealed(SEALED_HINT)
    try:
        keys = keyring.campaign(campaign.key_id)
    except KeyMissing:
        found = keyring.store.exists(campaign.key_id)
        raise NamesSealed(
            (
                "the campaign's key is in the key store, but this SIGNER_KEY does not open it. "
                if found
                else f"the campaign's key is not in the key store ({keyring.store.directory}). "
            )
            + SEALED_HINT
        ) from None
    context = name_context(campaign.id)
    names = []
    for token in sealed:
        try:
            names.append(keys.open(token, context) if token else "")
        except CannotOpen:
            names.append("")
    return names


SEALED_HINT = (
    "The names are sealed under the campaign's key: run this with the SIGNER_KEY and "
    "KEY_STORE the bot runs with. After a console rehearsal, run it without SIGNER_KEY "
    "and with the rehearsal's DATABASE_URL: the rehearsal key beside the database "
    "(.console-key) is then used."
)


def build_letter(
    session: Session,
    organizers: Organizers,
    actor: str,
    slug: str,
    today: dt.date,
    keyring: Keyring | None = None,
    tz: ZoneInfo | None = None,
) -> Letter:
    tz = tz or ZoneInfo("UTC")
    campaign = managed_campaign(session, organizers, actor, slug)
    names = public_names(named_today(session, campaign, keyring))
    if campaign.forgotten_at is not None:
        count = campaign.signature_count  # the rows went; the count stayed
    else:
        # The same transaction as the names: whatever happens meanwhile, the
        # count and the names describe the same signatures.
        count = (
            session.scalar(
                select(func.count())
                .select_from(Signature)
                .where(Signature.campaign_id == campaign.id)
            )
            or 0
        )
    record(session, actor, "letter", slug)
    return Letter(
        slug=campaign.slug,
        title=campaign.title,
        statement=campaign.statement,
        demands=tuple(d.text for d in campaign.demands),
        count=count,
        date=today,
        names=names,
        forgotten=campaign.forgotten_at is not None,
        addressee=campaign.addressee,
        first_day=campaign.opened_at.astimezone(tz).date() if campaign.opened_at else None,
        last_day=_last_day(campaign, tz),
    )


def _last_day(campaign: Campaign, tz: ZoneInfo) -> dt.date | None:
    if campaign.status is CampaignStatus.CLOSED and campaign.closed_at is not None:
        return last_day_of(campaign.closed_at, tz)
    if campaign.closes_at is not None and campaign.closes_at <= dt.datetime.now(dt.UTC):
        return last_day_of(campaign.closes_at, tz)  # closed by its date
    return None


# -- wording ---------------------------------------------------------------------


def long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def period_sentence(letter: Letter) -> str | None:
    if letter.first_day is None:
        return None
    first = long_date(letter.first_day)
    if letter.last_day is None:
        return f"Signatures gathered from {first}; the campaign is still open."
    last = long_date(letter.last_day)
    if letter.last_day <= letter.first_day:
        return f"Signed on {last}."
    return f"Signed between {first} and {last}."


def count_sentence(letter: Letter) -> str:
    people = "person has" if letter.count == 1 else "people have"
    sentence = f"{letter.count:,} {people} signed this letter"
    if letter.forgotten:
        return sentence + "; their names were deleted when the campaign's signers were forgotten."
    if not letter.count:
        return "Nobody has signed this letter yet."
    if letter.named == letter.count:
        return sentence + (", with their name." if letter.count == 1 else ", all with their name.")
    if not letter.named:
        return sentence + (", anonymously." if letter.count == 1 else ", all anonymously.")
    return sentence + f": {letter.named:,} with their name, {letter.anonymous:,} anonymously."


# -- the statement's shape ------------------------------------------------------------

_BULLET = re.compile(r"^\s*[-*•–]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*(\d{1,9})[.)]\s+(.*)$")


@dataclass(frozen=True)
class Paragraph:
    lines: tuple[str, ...]  # line breaks the organizer typed are kept


@dataclass(frozen=True)
class ItemList:
    items: tuple[str, ...]
    start: int | None = None  # a numbered list's first number; None for bullets


def statement_blocks(text: str) -> list[Paragraph | ItemList]:
    """The statement as its organizer wrote it: paragraphs (separated by blank
    lines, their line breaks kept) and lists (lines starting with `-`, `*`, `•`
    or `1.`), each a block of its own."""
    blocks: list[Paragraph | ItemList] = []
    lines: list[str] = []
    items: list[str] = []
    start: int | None = None
    kind = ""

    def flush() -> None:
        nonlocal lines, items, start, kind
        if lines:
            blocks.append(Paragraph(tuple(lines)))
        if items:
            blocks.append(ItemList(tuple(items), start))
        lines, items, start, kind = [], [], None, ""

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        bullet, numbered = _BULLET.match(raw), _NUMBERED.match(raw)
        if bullet or numbered:
            this = "bullet" if bullet else "number"
            if lines or (items and this != kind):
                flush()
            if numbered and not items:
                start = int(numbered[1])
            kind = this
            # One of the two matched (the test above); mypy cannot follow it.
            items.append((bullet[1] if bullet else numbered[2]).strip())  # type: ignore[index]
        elif items:
            items[-1] += " " + line  # a list item that wraps onto the next line
        else:
            lines.append(line)
    flush()
    return blocks


# -- Markdown --------------------------------------------------------------------------

# Only what Markdown would otherwise read as formatting is escaped: `Health & Safety`
# and `O'Brien (UK)` stay as they are. Checked with a CommonMark parser
# (tests/test_letter.py): what it reads is what was written.
_MD_ALWAYS = re.compile(r"([\\`*_\[\]<>~])")
_MD_ENTITY = re.compile(r"&(?=#\d{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
_MD_LINE_START = re.compile(r"^(#{1,6}(?=\s|$)|[-+=](?=\s|$)|[-=]+$|(\d{1,9})([.)])(?=\s|$)|>)")


def md_text(text: str) -> str:
    """One line of plain text as Markdown that reads exactly as the text."""
    escaped = _MD_ENTITY.sub(r"\\&", _MD_ALWAYS.sub(r"\\\1", text.strip()))

    def line_start(match: re.Match[str]) -> str:
        if match[2]:  # "1." would start a numbered list
            return f"{match[2]}\\{match[3]}"
        return "\\" + match[1]

    return _MD_LINE_START.sub(line_start, escaped, count=1)


def _md_statement(text: str) -> list[str]:
    out: list[str] = []
    for block in statement_blocks(text):
        if isinstance(block, Paragraph):
            # A backslash at the end of a line is CommonMark's hard line break.
            out.append("\\\n".join(md_text(line) for line in block.lines))
        elif block.start is None:
            out.append("\n".join(f"- {md_text(item)}" for item in block.items))
        else:
            out.append(
                "\n".join(
                    f"{n}. {md_text(item)}" for n, item in enumerate(block.items, block.start)
                )
            )
        out.append("")
    return out


def render_markdown(letter: Letter) -> str:
    lines = [f"# {md_text(letter.title)}", ""]
    if letter.addressee:
        lines += [f"To: {md_text(letter.addressee)}", ""]
    lines += [long_date(letter.date), ""]
    lines += _md_statement(letter.statement)
    lines += ["## Our demands", ""]
    lines += [f"{n}. {md_text(d)}" for n, d in enumerate(letter.demands, start=1)]
    lines += ["", "## Signatures", ""]
    period = period_sentence(letter)
    if period:
        lines += [md_text(period), ""]
    lines += [md_text(count_sentence(letter)), ""]
    lines += [f"- {md_text(name)}" for name in letter.names]
    return "\n".join(lines).rstrip() + "\n"


# -- HTML, for print -----------------------------------------------------------------

_HTML_STYLE = """
  @page { size: A4; margin: 2.2cm 2cm 2.4cm;
          @bottom-center { content: counter(page) " / " counter(pages);
                           font: 9pt Georgia, serif; color: #555; } }
  html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { font-family: Georgia, 'Times New Roman', serif; font-size: 11.5pt;
         line-height: 1.45; color: #000; background: #fff; max-width: 42em;
         margin: 2em auto; padding: 0 1em; }
  header { margin-bottom: 1.5em; }
  h1 { font-size: 20pt; line-height: 1.2; margin: 0 0 .4em; }
  h2 { font-size: 13pt; margin: 1.6em 0 .5em; border-bottom: 1px solid #999;
       break-after: avoid; page-break-after: avoid; }
  .addressee { font-weight: bold; margin: 0; }
  .date { color: #333; margin: .2em 0 0; }
  .statement p, .statement ul, .statement ol { margin: 0 0 .8em; }
  p, li { orphans: 3; widows: 3; }
  ol.demands li { margin-bottom: .4em; break-inside: avoid; page-break-inside: avoid; }
  .count { font-weight: bold; }
  ul.names { list-style: none; padding: 0; columns: 3; column-gap: 2em; }
  ul.names li { break-inside: avoid; page-break-inside: avoid; padding: .1em 0; }
  @media print {
    body { margin: 0; max-width: none; padding: 0; font-size: 11pt; }
    a { color: inherit; text-decoration: none; }
  }
"""


def _html_statement(text: str) -> str:
    e = html.escape
    parts = []
    for block in statement_blocks(text):
        if isinstance(block, Paragraph):
            parts.append("    <p>" + "<br>\n      ".join(e(line) for line in block.lines) + "</p>")
        else:
            tag = "ul" if block.start is None else "ol"
            start = f' start="{block.start}"' if block.start not in (None, 1) else ""
            items = "".join(f"\n      <li>{e(item)}</li>" for item in block.items)
            parts.append(f"    <{tag}{start}>{items}\n    </{tag}>")
    return "\n".join(parts)


def render_html(letter: Letter) -> str:
    e = html.escape
    demands = "\n".join(f"    <li>{e(d)}</li>" for d in letter.demands)
    names = "\n".join(f"    <li>{e(n)}</li>" for n in letter.names)
    names_block = f'  <ul class="names">\n{names}\n  </ul>\n' if letter.names else ""
    addressee = (
        f'    <p class="addressee">To: {e(letter.addressee)}</p>\n' if letter.addressee else ""
    )
    period = period_sentence(letter)
    period_line = f"  <p>{e(period)}</p>\n" if period else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(letter.title)}</title>\n<style>{_HTML_STYLE}</style>\n</head>\n<body>\n"
        "  <header>\n"
        f"    <h1>{e(letter.title)}</h1>\n"
        f"{addressee}"
        f'    <p class="date">{e(long_date(letter.date))}</p>\n'
        "  </header>\n"
        f'  <section class="statement">\n{_html_statement(letter.statement)}\n  </section>\n'
        f'  <h2>Our demands</h2>\n  <ol class="demands">\n{demands}\n  </ol>\n'
        f"  <h2>Signatures</h2>\n{period_line}"
        f'  <p class="count">{e(count_sentence(letter))}</p>\n'
        f"{names_block}"
        "</body>\n</html>\n"
    )


def render(letter: Letter, fmt: str) -> str:
    return render_html(letter) if fmt == "html" else render_markdown(letter)


def write_private(path: Path, text: str) -> None:
    """Write the letter readable by its owner only (it holds the names of public
    signers), whatever was at `path` before: written aside, then put in place."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, aside = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(aside, path)
    except BaseException:
        Path(aside).unlink(missing_ok=True)
        raise
