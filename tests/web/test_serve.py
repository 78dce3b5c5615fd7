"""`chatflow serve` end to end: a real process, a real repository, real HTTP on loopback."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import signal

import pytest

from ..gitrepo import Repo, account, flow
from ..server import Server

SECRETS = {"WA_TOKEN": "t0ken-value", "WA_SECRET": "app-secret", "WA_VERIFY": "verify-me"}


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path / "repo")
    r.write("flows.d/wa.yaml", account())
    r.write("flows.d/faq.yaml", flow(text="v1"))
    r.commit("first")
    return r


def flow_status(server: Server, name: str) -> dict | None:
    return next((f for f in server.status()["flows"] if f["name"] == name), None)


def ready(item: dict) -> dict:
    return next(c for c in item["conditions"] if c["type"] == "Ready")


def test_new_commit_goes_live_without_restart(repo):
    with Server(repo.path, env=SECRETS) as server:
        assert flow_status(server, "faq")["actualState"] == "published"
        repo.write("flows.d/greet.yaml", flow("greet", keywords=("hello",)))
        head = repo.commit("add greet")
        # the flow row commits before its conditions: wait for both
        live = server.wait_for(lambda: (f := flow_status(server, "greet")) and f["commit"] == head
                               and any(c["type"] == "Ready" for c in f["conditions"]) and f, what="greet live")
        assert live["actualState"] == "published"
        assert ready(live)["status"] == "True"
        assert server.status()["commit"] == head


def test_bad_commit_keeps_previous_revision_and_next_good_commit_recovers(repo):
    with Server(repo.path, env=SECRETS) as server:
        revision = flow_status(server, "faq")["revision"]
        repo.write("flows.d/faq.yaml", flow(text="v2").replace("next: done", "next: gone"))
        bad = repo.commit("broken")
        server.wait_for(lambda: server.status()["commit"] == bad, what="bad commit observed")
        faq = flow_status(server, "faq")
        assert faq["revision"] == revision
        invalid = next(c for c in faq["conditions"] if c["type"] == "Invalid")
        assert invalid["status"] == "True" and "flows.d/faq.yaml:10:" in invalid["message"]
        repo.write("flows.d/faq.yaml", flow(text="v3"))
        good = repo.commit("fixed")
        server.wait_for(lambda: (f := flow_status(server, "faq")) and f["commit"] == good and ready(f)["status"] == "True",
                        what="recovery")
        assert flow_status(server, "faq")["revision"] != revision


def test_missing_secrets_make_the_account_not_ready(repo):
    with Server(repo.path, env={"WA_TOKEN": "", "WA_SECRET": "", "WA_VERIFY": ""}) as server:
        status = server.status()
        acct = status["accounts"][0]
        assert ready(acct)["reason"] == "SecretMissing" and "WA_TOKEN" in ready(acct)["message"]
        assert ready(flow_status(server, "faq"))["reason"] == "AccountNotReady"


def test_push_hook_needs_a_valid_signature_when_a_secret_is_set(repo):
    with Server(repo.path, env={"CHATFLOW_GIT_HOOK_SECRET": "hooksecret", "CHATFLOW_POLL_INTERVAL": "1h"}) as server:
        body = b'{"ref": "refs/heads/main"}'
        assert server.client.post("/hooks/git", content=body).status_code == 401
        bad = "sha256=" + hmac.new(b"wrong", body, hashlib.sha256).hexdigest()
        assert server.client.post("/hooks/git", content=body, headers={"X-Hub-Signature-256": bad}).status_code == 401
        good = "sha256=" + hmac.new(b"hooksecret", body, hashlib.sha256).hexdigest()
        assert server.client.post("/hooks/git", content=body, headers={"X-Hub-Signature-256": good}).status_code == 202
        assert server.client.post("/hooks/git", content=body, headers={"X-Gitlab-Token": "hooksecret"}).status_code == 202
        assert server.client.post("/hooks/git", content=b"x" * (1024 * 1024 + 1), headers={"X-Gitlab-Token": "hooksecret"}).status_code == 413


def test_api_needs_a_token_off_loopback_binding(repo):
    # bound to loopback with a token set: the token is required
    with Server(repo.path, env={"CHATFLOW_API_TOKEN": "s3cret"}) as server:
        assert server.client.get("/status").status_code == 401
        assert server.client.get("/status", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert server.client.get("/healthz").status_code == 200


@pytest.mark.parametrize("crash", ["reconcile.after-plan", "apply.between-flows", "sigkill"])
def test_killed_mid_reconcile_then_restarted_converges(repo, tmp_path, crash):
    state = tmp_path / "state.db"
    with Server(repo.path, state=state) as server:
        pass  # first commit applied
    repo.write("flows.d/a.yaml", flow("a", keywords=("a",)))
    repo.write("flows.d/b.yaml", flow("b", keywords=("b",)))
    repo.write("flows.d/faq.yaml", flow(text="v2"))
    head = repo.commit("three changes")
    env = {} if crash == "sigkill" else {"CHATFLOW_CRASH_AT": crash}
    doomed = Server(repo.path, state=state, env={**SECRETS, **env})
    if crash == "sigkill":
        doomed.start(wait_ready=False)
        doomed.stop(signal.SIGKILL)
    else:
        doomed.start(wait_answer=False)
        assert doomed.proc.wait(20) == 137
        doomed.log.close()
    with Server(repo.path, state=state, env=SECRETS) as server:
        server.wait_for(lambda: server.status()["commit"] == head, what="convergence")
        status = server.status()
        assert {f["name"]: f["actualState"] for f in status["flows"]} == {"a": "published", "b": "published", "faq": "published"}
        assert all(ready(f)["status"] == "True" for f in status["flows"])


def test_the_serving_line_names_the_http_stack_uvicorn_runs_on(repo):
    """uvicorn takes its C parser and uvloop whenever they are installed (the `fast` extra, which CI
    installs for a second pass): the log says which stack is serving."""
    with Server(repo.path, env=SECRETS) as server:
        serving = next(json.loads(line) for line in server.output().splitlines()
                       if line.startswith("{") and '"serving"' in line)
    assert serving["http"] == ("httptools" if importlib.util.find_spec("httptools") else "h11")
    assert serving["loop"] == ("uvloop" if importlib.util.find_spec("uvloop") else "asyncio")
