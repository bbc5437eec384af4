"""Every Slack listener, wired in one place (as in Slack's Bolt starter template):
``register_listeners(app, deps)`` calls ``register(app, deps)`` of each module.

- ``commands``: slash commands and ``/cs``;
- ``events``: mentions and DMs;
- ``actions``: the buttons under an answer (how, accounts, term, pick, share, chart);
- ``home``: the App Home tab.

Every listener acks at once (within Slack's 3 seconds) and does the real work in a
lazy function; every answer goes through ``commands.router.dispatch``. What they share
(settings, database, clock, lookups, privacy, the error handler) is in ``deps``;
how they answer (post, respond, upload) is in ``send``.
"""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners import actions, commands, events, home
from bot.slack.listeners.deps import Deps


def register_listeners(app: App, deps: Deps) -> None:
    commands.register(app, deps)
    events.register(app, deps)
    actions.register(app, deps)
    home.register(app, deps)
