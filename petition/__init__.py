"""The petition domain: campaigns, signatures, subscriptions, organizing,
announcements, updates, the letter. Plain functions and small classes over a
Session and values; they know nothing of Slack (ARCHITECTURE.md)."""
