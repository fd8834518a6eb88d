"""Undersigned: private petition campaigns inside a company's Slack. This package
is the runnable (python -m bot): the CLI, the app factory, the server, the
scheduler and the settings (ARCHITECTURE.md)."""
