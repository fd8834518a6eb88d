"""Undersigned: private petition campaigns inside a company's Slack."""
