"""The Slack Web API methods the fake answers (`_m_<method>`), as Slack does: generated ids,
stored messages and views, uploads in two steps."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from bot.demo.fakes.slack_rules import (
    BOT_ID,
    BOT_USER_ID,
    MAX_MESSAGE_BLOCKS,
    MAX_VIEW_BLOCKS,
    TEAM_ID,
    SlackUser,
    UploadedFile,
    assign_ids,
    block_problem,
)


class SlackMethods:
    """Mixed into FakeSlack, which holds this state."""

    users: dict[str, SlackUser]
    url: str
    views: dict[str, dict[str, Any]]
    messages: dict[tuple[str, str], dict[str, Any]]
    hosted_files: dict[str, bytes]
    uploads: dict[str, UploadedFile]
    home_views: dict[str, dict[str, Any]]
    ephemerals: dict[tuple[str, str], dict[str, Any]]
    response_urls: dict[str, str]
    ephemeral_owners: dict[tuple[str, str], str]
    response_url_posts: list[dict[str, Any]]
    keep_uploads: bool
    left_channels: set[str]
    deleted_files: list[str]
    usergroups: dict[str, tuple[str, list[str]]]
    _ids: itertools.count[int]

    def _ts(self) -> str:
        raise NotImplementedError

    def _m_auth_test(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "bulkauth",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _m_apps_connections_open(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.url.replace("http://", "ws://", 1) + "/socket"}

    def _m_usergroups_list(self, _p: dict[str, Any]) -> dict[str, Any]:
        groups = [
            {"id": group_id, "team_id": TEAM_ID, "handle": handle, "name": handle.title()}
            for group_id, (handle, _members) in self.usergroups.items()
        ]
        return {"ok": True, "usergroups": groups}

    def _m_usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(p.get("usergroup") or ""))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(group[1])}

    def _m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(p.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user.as_api()}

    @staticmethod
    def _message(p: dict[str, Any], ts: str) -> dict[str, Any]:
        """A message as Slack stores and shows it: generated ids filled in, sent by the bot."""
        if isinstance(p.get("blocks"), str):
            p["blocks"] = json.loads(p["blocks"])
        assign_ids(p.get("blocks") or [])
        return {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": "A0BULK",
            "team": TEAM_ID,
            **p,
            "ts": ts,
        }

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = str(p.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if problem := block_problem(p.get("blocks"), MAX_MESSAGE_BLOCKS):
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        if channel.startswith("U"):  # a DM to a user id opens the IM channel
            channel = "D" + channel[1:]
        ts = self._ts()
        message = {**self._message(p, ts), "channel": channel}
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _m_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        """Newest first, `limit` per page, an opaque cursor while more remain (as Slack does)."""
        channel = str(p.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        found = [m for (posted_in, _ts), m in self.messages.items() if posted_in == channel]
        found.sort(key=lambda message: message["ts"], reverse=True)
        start = int(p.get("cursor") or 0)
        limit = min(int(p.get("limit") or 100), 999)
        page = [
            {"type": "message", "ts": m["ts"], "user": m.get("user"), "text": m.get("text", "")}
            for m in found[start : start + limit]
        ]
        more = start + limit < len(found)
        metadata = {"next_cursor": str(start + limit) if more else ""}
        return {"ok": True, "messages": page, "has_more": more, "response_metadata": metadata}

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        if problem := block_problem(p.get("blocks"), MAX_MESSAGE_BLOCKS):
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        ts = self._ts()
        channel = str(p.get("channel") or "")
        self.ephemerals[(channel, ts)] = {**self._message(p, ts), "channel": channel}
        self.ephemeral_owners[(channel, ts)] = str(p.get("user") or "")
        return {"ok": True, "message_ts": ts}

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        if problem := block_problem(p.get("blocks"), MAX_MESSAGE_BLOCKS):
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        key = (str(p["channel"]), str(p["ts"]))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.messages[key] = {**self.messages[key], **self._message(p, key[1])}
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _view(
        self, view: dict[str, Any] | str, view_id: str | None = None, *, root: str | None = None
    ) -> dict[str, Any]:
        """Store a view as Slack does (generated ids, a new hash) and answer with it."""
        view = view if isinstance(view, dict) else json.loads(view)
        if problem := block_problem(view.get("blocks"), MAX_VIEW_BLOCKS):
            return {"ok": False, "error": "invalid_arguments", "response_metadata": [problem]}
        assign_ids(view.get("blocks") or [])
        view_id = view_id or f"V{next(self._ids):06d}"
        previous = self.views.get(view_id) or {}
        stored = {
            "team_id": TEAM_ID,
            "app_id": "A0BULK",
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            **view,
            "id": view_id,
            "root_view_id": previous.get("root_view_id") or root or view_id,
            "hash": f"{int(time.time())}.h{next(self._ids)}",
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
        }
        self.views[view_id] = stored
        return {"ok": True, "view": stored}

    def apply_response_action(
        self, view_id: str, ack: dict[str, Any], *, submitted_hash: str
    ) -> str | None:
        """What Slack does with a view_submission's ack: `update` replaces the submitted view
        (unless the app already changed it since), `push` stacks a new one; returns the view
        now on top, or None when the modal closed."""
        action = ack.get("response_action")
        if action == "errors":
            return view_id
        if action == "update":
            if self.views[view_id]["hash"] == submitted_hash:
                self._view(ack["view"], view_id)
            return view_id
        if action == "push":
            root = self.views[view_id]["root_view_id"]
            return str(self._view(ack["view"], root=root)["view"]["id"])
        return None

    def _m_views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return self._view(p["view"])

    def _m_views_push(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._view(p["view"])

    def _m_views_update(self, p: dict[str, Any]) -> dict[str, Any]:
        view_id = str(p.get("view_id") or "")
        if view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        if p.get("hash") and p["hash"] != self.views[view_id]["hash"]:
            return {"ok": False, "error": "hash_conflict"}  # the user changed it meanwhile
        return self._view(p["view"], view_id)

    def _m_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        user_id = str(p.get("user_id") or "")
        if user_id not in self.users:
            return {"ok": False, "error": "user_not_found"}
        answer = self._view(p["view"], f"home:{user_id}")
        if answer["ok"]:
            self.home_views[user_id] = answer["view"]
        return answer

    def _m_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        """One user: their DM with the bot; several (up to 8): a group DM (an mpim, `G…`)."""
        users = [user for user in str(p.get("users", "")).split(",") if user]
        if not users or len(users) > 8:
            return {"ok": False, "error": "not_enough_users" if not users else "too_many_users"}
        if any(user not in self.users for user in users):
            return {"ok": False, "error": "user_not_found"}
        if len(users) == 1:
            return {"ok": True, "channel": {"id": "D" + users[0][1:]}}
        return {"ok": True, "channel": {"id": "G" + "".join(sorted(u[1:5] for u in users))}}

    def _m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):06d}"
        self.uploads[file_id] = UploadedFile(id=file_id, filename=str(p.get("filename")))
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        files = p["files"] if isinstance(p["files"], list) else json.loads(p["files"])
        for entry in files:
            upload = self.uploads[entry["id"]]
            upload.title = entry.get("title")
            upload.channel_id = p.get("channel_id")
            upload.thread_ts = p.get("thread_ts")
        return {"ok": True, "files": [{"id": entry["id"]} for entry in files]}

    def _m_files_delete(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = str(p.get("file"))
        if file_id not in self.hosted_files:
            return {"ok": False, "error": "file_not_found"}
        self.deleted_files.append(file_id)
        return {"ok": True}
