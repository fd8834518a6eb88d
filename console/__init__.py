"""The offline console and the fake Slack workspace it plays, which the tests use
too (its wiring to the app is bot/rehearsal.py; ARCHITECTURE.md)."""
