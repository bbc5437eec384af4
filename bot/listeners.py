"""Slack listeners: slash commands, mentions, DMs, buttons and the App Home, all through one dispatch.

Every listener acks at once (within Slack's 3 seconds; with the usage text when
the input is plainly wrong) and does the real work in a lazy function.

Privacy: slash-command answers are private to the asker. Answers that carry
revenue figures are posted publicly only in the channels of
``CSBOT_REVENUE_CHANNELS``; anywhere else they stay private and say why.
"""

from __future__ import annotations

import logging
import re
import socket
import urllib.error
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.blocks import message_payload
from commands.context import Context
from commands.reply import Button, Reply
from commands.router import dispatch, precheck
from metrics.db import Database
from metrics.settings import Settings

logger = logging.getLogger(__name__)

SLASH = re.compile(r"^/[a-z][a-z0-9_-]*$")
ACTION = re.compile(r"^csbot_[a-z]+(?:_\d+)?$")
NETWORK_ERRORS = (TimeoutError, socket.timeout, urllib.error.URLError, ConnectionError)


def register_listeners(app: App, settings: Settings, db: Database, *,
                       clock: Callable[[], datetime] | None = None) -> "Listeners":
    listeners = Listeners(settings, db, clock=clock)
    app.command(SLASH)(ack=listeners.ack_command, lazy=[listeners.run_command])
    app.event("app_mention")(ack=_ack, lazy=[listeners.on_mention])
    app.event("message")(ack=_ack, lazy=[listeners.on_message])
    app.event("app_home_opened")(ack=_ack, lazy=[listeners.on_home_opened])
    app.action(ACTION)(ack=_ack, lazy=[listeners.on_action])
    app.error(listeners.on_error)
    return listeners


def _ack(ack) -> None:
    ack()


def command_text(body: dict[str, Any]) -> tuple[str | None, str]:
    """The command a slash command names (None for /cs) and its text."""
    name = body.get("command", "/cs").lstrip("/").lower()
    text = body.get("text") or ""
    return (None if name in ("cs", "csbot") else name), text


def slack_error(exc: BaseException) -> str:
    """A short name for a failed Slack call, safe to log (never the token)."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return type(exc).__name__


class Listeners:
    def __init__(self, settings: Settings, db: Database, *, clock: Callable[[], datetime] | None = None):
        self.settings = settings
        self.db = db
        self.clock = clock
        self._emails: dict[str, str | None] = {}
        self._channel_names: dict[str, str | None] = {}

    # -- context -------------------------------------------------------------
    def context(self, client, *, user_id: str | None, channel_id: str | None, surface: str) -> Context:
        now = self.clock() if self.clock else None
        return Context.create(self.db, self.settings, now=now, user_id=user_id,
                              user_email=self.user_email(client, user_id), channel_id=channel_id, surface=surface)

    def user_email(self, client, user_id: str | None) -> str | None:
        """The asker's e-mail (accounts' owners may be e-mails), looked up once and cached."""
        if not user_id or client is None:
            return None
        if user_id not in self._emails:
            try:
                user = client.users_info(user=user_id)["user"]
                self._emails[user_id] = (user.get("profile") or {}).get("email")
            except (SlackApiError, *NETWORK_ERRORS) as exc:
                logger.warning("users.info for %s failed: %s", user_id, slack_error(exc))
                return None  # not cached: try again next time
        return self._emails[user_id]

    def channel_name(self, client, channel_id: str | None) -> str | None:
        if not channel_id:
            return None
        if channel_id not in self._channel_names:
            try:
                self._channel_names[channel_id] = client.conversations_info(channel=channel_id)["channel"].get("name")
            except (SlackApiError, *NETWORK_ERRORS) as exc:
                logger.warning("conversations.info for %s failed: %s", channel_id, slack_error(exc))
                return None
        return self._channel_names[channel_id]

    def revenue_allowed(self, client, channel_id: str | None, channel_name: str | None = None) -> bool:
        """May revenue figures be posted publicly in this channel?"""
        allowed = {c.lower() for c in self.settings.revenue_channels}
        if not allowed or not channel_id:
            return False
        if channel_id.lower() in allowed:
            return True
        name = channel_name or self.channel_name(client, channel_id)
        return bool(name) and name.lower() in allowed

    def _private_note(self, lang: str) -> str:
        channels = ", ".join(f"#{c}" if not c.startswith(("C", "G")) else f"<#{c}>"
                             for c in self.settings.revenue_channels)
        if lang == "ja":
            where = f"（{channels}）" if channels else "（CSBOT_REVENUE_CHANNELS で指定）"
            return f":lock: 売上の数字は指定のチャンネル{where}でのみ共有されるため、この回答はあなたにだけ表示されています。"
        where = f" ({channels})" if channels else " (set CSBOT_REVENUE_CHANNELS)"
        return f":lock: Only you can see this: revenue figures are shared only in the revenue channels{where}."

    # -- slash commands ------------------------------------------------------
    def ack_command(self, ack, body) -> None:
        name, text = command_text(body)
        problem = precheck(text, name, self.settings, user_id=body.get("user_id"))
        if problem:
            ack(text=problem)  # Slack shows the usage message to the asker only
        else:
            ack()

    def run_command(self, body, respond, client) -> None:
        name, text = command_text(body)
        if precheck(text, name, self.settings, user_id=body.get("user_id")):
            return  # already answered in the ack
        ctx = self.context(client, user_id=body.get("user_id"), channel_id=body.get("channel_id"), surface="slash")
        reply = dispatch(text, ctx, command_name=name)
        asked = f"{name} {text}".strip() if name else text
        if reply.kind == "answer":
            extra = [Button("csbot_share", "チャンネルに共有" if reply.language == "ja" else "Share in channel", asked)]
            if reply.chart is not None:
                extra.append(Button("csbot_chart", "グラフ" if reply.language == "ja" else "Chart", asked))
            reply = replace(reply, buttons=reply.buttons + tuple(extra))
        self._respond(respond, response_type="ephemeral", **message_payload(reply))

    # -- mentions and DMs ----------------------------------------------------
    def on_mention(self, event, client) -> None:
        channel, user = event.get("channel"), event.get("user")
        thread = event.get("thread_ts") or event.get("ts")
        ctx = self.context(client, user_id=user, channel_id=channel, surface="mention")
        reply = dispatch(event.get("text", ""), ctx)
        if reply.revenue and not self.revenue_allowed(client, channel):
            reply = replace(reply, lines=reply.lines + (self._private_note(reply.language),))
            self._post(client, channel, reply, thread_ts=thread, ephemeral_user=user)
            return
        if self._post(client, channel, reply, thread_ts=thread):
            self._upload_chart(client, channel, reply, thread_ts=thread)
        else:
            self._tell_failure(client, channel, user, thread, reply.language)

    def on_message(self, event, client) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
            return
        channel = event.get("channel")
        ctx = self.context(client, user_id=event.get("user"), channel_id=channel, surface="dm")
        reply = dispatch(event.get("text", ""), ctx)
        if self._post(client, channel, reply, thread_ts=event.get("thread_ts")):
            self._upload_chart(client, channel, reply, thread_ts=event.get("thread_ts"))
        else:
            self._tell_failure(client, channel, event.get("user"), event.get("thread_ts"), reply.language)

    def _tell_failure(self, client, channel: str | None, user: str | None, thread_ts: str | None, lang: str) -> None:
        """The answer could not be posted (timeout, Slack error): try once to tell the asker."""
        if not user:
            return
        try:
            client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts,
                                      text=self._failure_text("failed", lang))
        except (SlackApiError, *NETWORK_ERRORS):
            pass  # Slack is unreachable: the first failure is already in the log

    # -- buttons -------------------------------------------------------------
    def on_action(self, body, action, respond, client) -> None:
        user = (body.get("user") or {}).get("id")
        channel = (body.get("channel") or {}).get("id")
        action_id = re.sub(r"_\d+$", "", action.get("action_id", ""))
        ctx = self.context(client, user_id=user, channel_id=channel, surface="action")
        reply = dispatch(action.get("value", ""), ctx)
        if action_id == "csbot_share":
            self._share(client, respond, reply, channel, user)
        elif action_id == "csbot_chart":
            self._chart_to_dm(client, respond, reply, user)
        else:
            self._respond(respond, response_type="ephemeral", replace_original=False,
                          **message_payload(reply, show_how=action_id == "csbot_how"))

    def _share(self, client, respond, reply: Reply, channel: str | None, user: str | None) -> None:
        lang = reply.language
        if reply.revenue and not self.revenue_allowed(client, channel):
            note = self._private_note(lang).replace("Only you can see this: ", "I can't share this here: ")
            self._respond(respond, response_type="ephemeral", replace_original=False, text=note)
            return
        shared = replace(reply, footer=((reply.footer + " · ") if reply.footer else "") +
                         (f"<@{user}> が共有" if lang == "ja" else f"shared by <@{user}>"))
        if self._post(client, channel, shared, on_failure=respond):
            self._upload_chart(client, channel, reply)

    def _chart_to_dm(self, client, respond, reply: Reply, user: str | None) -> None:
        if reply.chart is None or not user:
            self._respond(respond, response_type="ephemeral", replace_original=False,
                          text="この回答にはグラフがありません。" if reply.language == "ja" else "This answer has no chart.")
            return
        try:
            dm = client.conversations_open(users=user)["channel"]["id"]
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            logger.error("conversations.open failed: %s", slack_error(exc))
            return
        self._upload_chart(client, dm, reply)

    # -- App Home ------------------------------------------------------------
    def on_home_opened(self, event, client) -> None:
        if event.get("tab") not in (None, "home"):
            return
        from bot.home import home_view

        user = event.get("user")
        ctx = self.context(client, user_id=user, channel_id=None, surface="home")
        try:
            client.views_publish(user_id=user, view=home_view(ctx))
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            logger.error("views.publish failed: %s", slack_error(exc))

    # -- Slack calls ---------------------------------------------------------
    def _post(self, client, channel: str | None, reply: Reply, thread_ts: str | None = None,
              ephemeral_user: str | None = None, on_failure=None) -> bool:
        payload = message_payload(reply)
        try:
            if ephemeral_user:
                client.chat_postEphemeral(channel=channel, user=ephemeral_user, thread_ts=thread_ts, **payload)
            else:
                client.chat_postMessage(channel=channel, thread_ts=thread_ts, **payload)
            return True
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            error = slack_error(exc)
            logger.error("posting to %s failed: %s", channel, error)
            if on_failure is not None:
                self._respond(on_failure, response_type="ephemeral", replace_original=False,
                              text=self._failure_text(error, reply.language))
            return False

    @staticmethod
    def _failure_text(error: str, lang: str) -> str:
        if error in ("not_in_channel", "channel_not_found"):
            return ("まだこのチャンネルに参加していません。`/invite @csbot` で招待してから、もう一度押してください。"
                    if lang == "ja" else
                    "I'm not in this channel yet. Invite me with `/invite @csbot`, then press the button again.")
        if error == "ratelimited":
            return ("Slack が混み合っています。少し待ってからもう一度お試しください。" if lang == "ja"
                    else "Slack is busy right now (rate limited). Please try again in a minute.")
        return ("Slack に送信できませんでした。少し待ってからもう一度お試しください。" if lang == "ja"
                else "I couldn't post to Slack just now. Please try again in a minute.")

    def _respond(self, respond, **kwargs) -> None:
        try:
            respond(**kwargs)
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            logger.error("response_url post failed: %s", slack_error(exc))
        except Exception as exc:  # a response_url that answers with an error status
            logger.error("response_url post failed: %s", type(exc).__name__)

    def _upload_chart(self, client, channel: str | None, reply: Reply, thread_ts: str | None = None) -> None:
        if reply.chart is None or not channel:
            return
        try:
            from bot.charts import alt_text, has_data, render_chart

            if not has_data(reply.chart):
                return
            png = render_chart(reply.chart, reply.language, self.settings.currency)
            client.files_upload_v2(channel=channel, thread_ts=thread_ts, file=png, filename="csbot-chart.png",
                                   title=reply.chart.title, alt_txt=alt_text(reply.chart, reply.language))
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            logger.error("chart upload to %s failed: %s", channel, slack_error(exc))
        except Exception:
            logger.exception("drawing the chart failed")

    def on_error(self, error) -> None:
        logger.error("listener error: %s", type(error).__name__)
