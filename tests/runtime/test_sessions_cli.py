"""`chatflow sessions`: the conversations of a served repository, from its state file."""

from __future__ import annotations

import json

from .harness import Chat
from .payloads import wa_text


def test_chatflow_sessions_lists_the_conversations_newest_first(repo, fake, tmp_path, cli):
    state = tmp_path / "state.db"
    with Chat(repo.path, state=state) as chat:
        chat.wa(wa_text("15550002222", "hi"))
        chat.wa(wa_text("15550003333", "hi"))
        fake.wait_for(2)
    listed = cli("sessions", "--repo", str(repo.path), "--state", str(state), "-o", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["conversations"]
    assert [r["contact"]["address"] for r in rows] == ["15550003333", "15550002222"]
    assert {(r["flow"], r["status"], r["node"]) for r in rows} == {("orders", "waiting", "menu")}
    text = cli("sessions", "orders", "--status", "live", "--repo", str(repo.path), "--state", str(state))
    assert text.returncode == 0 and "whatsapp:wa:15550002222" in text.stdout and "at menu" in text.stdout
    none = cli("sessions", "--status", "ended", "--repo", str(repo.path), "--state", str(state))
    assert none.stdout.strip() == "no conversations that are ended"


def test_chatflow_sessions_says_what_is_wrong(repo, tmp_path, cli):
    missing = cli("sessions", "--repo", str(repo.path), "--state", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and "no state at" in missing.stderr
    bad = cli("sessions", "--status", "sleeping", "--repo", str(repo.path))
    assert bad.returncode == 2 and "--status 'sleeping' is not one of" in bad.stderr
