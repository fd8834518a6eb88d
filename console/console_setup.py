"""What the offline console plays with: a demo workspace and a demo campaign (the
settings it runs under, with a rehearsal SIGNER_KEY when none is configured, are
in bot/rehearsal.py, with the code that creates the demo campaign)."""

from __future__ import annotations

from dataclasses import replace

from console.workspace import BOT_USER_ID, FakeChannel, FakeUser, Workspace

GENERAL = FakeChannel("C0GENERAL", "general")
ANNOUNCE = FakeChannel("C0ANNOUNCE", "announcements")

ALICE = FakeUser("U0ALICE001", "alice", "Alice Moreau")
BOB = FakeUser("U0BOB00002", "bob", "Bob Okafor")
CAROL = FakeUser("U0CAROL003", "carol", "Carol Jensen")
DANA = FakeUser("U0DANA0004", "dana", "Dana Lee")  # the organizer
ERIN = FakeUser("U0ERIN0005", "erin", "Erin Walsh")
FRANK = FakeUser("U0FRANK006", "frank", "Frank Ito")
GUS = FakeUser("U0GUS00007", "gus", "Gus Brandt", is_restricted=True)  # a guest
PEOPLE = (ALICE, BOB, CAROL, DANA, ERIN, FRANK, GUS)
BOT = FakeUser(BOT_USER_ID, "undersigned", "Undersigned", is_bot=True)

DEMO_CAMPAIGN = {
    "slug": "demo",
    "title": "Fair schedules now",
    "statement": (
        "We, the undersigned, ask management to give us our schedules in good time and "
        "to stop changing shifts at the last minute."
    ),
    "demands": [
        "Publish schedules two weeks in advance",
        "Pay for shifts cancelled with less than 48 hours' notice",
        "No retaliation against anyone who signs",
    ],
    "milestones": [5, 10, 25],
    "channel": ANNOUNCE.id,
}


def demo_workspace(people: int = 0) -> Workspace:
    """The demo workspace, with `people` more members (`member1`...) to rehearse a
    crowd: milestones, conditional names and the letter at a real campaign's size."""
    workspace = Workspace()
    for channel in (GENERAL, ANNOUNCE):
        workspace.add_channel(replace(channel))
    for user in (*PEOPLE, BOT):
        workspace.add_user(replace(user))
    add_members(workspace, people)
    return workspace


def add_members(workspace: Workspace, count: int) -> list[FakeUser]:
    """`count` more members, numbered after those already there."""
    have = sum(1 for u in workspace.users.values() if u.name.startswith("member"))
    added = []
    for number in range(have + 1, have + count + 1):
        user = FakeUser(f"U1M{number:07d}", f"member{number}", f"Member {number}")
        added.append(workspace.add_user(user))
    return added


def role_of(user: FakeUser, organizers: frozenset[str] = frozenset({DANA.id})) -> str:
    if user.is_restricted or user.is_ultra_restricted:
        return "guest"
    if user.id in organizers:
        return "organizer"
    return "member"
