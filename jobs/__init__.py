"""The scheduled work (ARCHITECTURE.md): announcements and cards (announce), news
to signers (news), deleting news DMs (retract), and upkeep of what is stored
(upkeep). Every job takes the process's `Database` first, then the Slack client
if it talks to Slack, then the `Keyring` if it opens what is sealed, then plain
values; posts to Slack go through one outbox (outbox).
"""
