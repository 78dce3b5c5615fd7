"""Twilio Studio flow definitions -> a chatflow Flow: each widget with an equivalent becomes that component.

| Studio widget | becomes |
|---|---|
| trigger (incomingMessage / incomingConversationMessage; incomingRequest / incomingParent) | `start` of a message (default whatsapp) or manual trigger |
| send-message | `message` (`media` when it has a media_url) |
| send-and-wait-for-reply | `question` (expect text, reply saved as `vars.<widget>_reply`, `timeout` from its seconds) |
| split-based-on | `condition`: one branch per `match` transition, its conditions joined by `and`; `noMatch` is the default |
| set-variables | `set` |
| make-http-request | `http`; every `widgets.W.parsed.X` read anywhere becomes a `save` of `X` into `vars.<w>_<x>` |
| run-subflow | `start_flow` when `--subflow SID=NAME` maps its flow_sid |
| send-to-flex | `handoff` |
| anything else (run-function, voice widgets, unknown types) | an `end` node with `outcome: unsupported-<type>`, listed in the flow's `chatflow/unsupported` annotation, and a warning |

Liquid variables become the sandbox's names: `trigger.message.Body` -> `vars.trigger_body` (saved by
a `set` right after start, since `message.text` changes at every reply), `contact.channel.address`
and `trigger.message.From` -> `contact.phone`, `flow.channel.address` -> `account.phone`,
`flow.variables.X` -> `vars.x`, `flow.data.X` -> `vars.x` (declared: they are trigger inputs),
`widgets.W.inbound.Body` -> `vars.<w>_reply`, `widgets.W.parsed.X` -> `vars.<w>_<x>`. A variable
with no equivalent becomes a declared, empty `vars.studio_...` and a warning. Studio compares
conditions case-insensitively with trimmed values; the converted expressions do the same.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from . import expressions
from .components import NODE_ID_PATTERN
from .draft import DraftError
from .models import API_VERSION
from .portable import Imported, bind

MESSAGE_EVENTS = ("incomingMessage", "incomingConversationMessage")
MANUAL_EVENTS = ("incomingRequest", "incomingParent")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_NODE_ID = re.compile(NODE_ID_PATTERN)


@dataclass(frozen=True)
class State:
    name: str
    type: str
    transitions: tuple[dict[str, Any], ...]
    properties: dict[str, Any]

    def next(self, event: str) -> str | None:
        for t in self.transitions:
            if t.get("event") == event:
                return t.get("next") or None
        return None


def _states(definition: dict[str, Any]) -> tuple[list[State], str]:
    states = definition.get("states")
    initial = definition.get("initial_state")
    if not isinstance(states, list) or not states:
        raise DraftError("the Studio definition has no `states`")
    if not isinstance(initial, str) or not initial:
        raise DraftError("the Studio definition has no `initial_state`")
    out: list[State] = []
    seen: set[str] = set()
    for i, s in enumerate(states):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str) or not isinstance(s.get("type"), str):
            raise DraftError(f"state #{i + 1} of the Studio definition needs a `name` and a `type`")
        if s["name"] in seen:
            raise DraftError(f"the Studio definition has two states named `{s['name']}`")
        seen.add(s["name"])
        transitions = s.get("transitions") or []
        properties = s.get("properties") or {}
        if not isinstance(transitions, list) or not all(isinstance(t, dict) for t in transitions):
            raise DraftError(f"state `{s['name']}`: `transitions` must be a list of {{event, next}}")
        if not isinstance(properties, dict):
            raise DraftError(f"state `{s['name']}`: `properties` must be a mapping")
        out.append(State(s["name"], s["type"], tuple(transitions), properties))
    for s in out:
        for t in s.transitions:
            target = t.get("next")
            if target and target not in seen:
                raise DraftError(f"transition `{t.get('event')}` of state `{s.name}` leads to `{target}`, which is not a state")
    if initial not in seen:
        raise DraftError(f"initial_state `{initial}` is not a state")
    return out, initial


def sanitize(name: str, prefix: str = "w") -> str:
    """A Studio name -> a node id or variable name (`Copy of send_message-2` -> `copy_of_send_message_2`)."""
    text = re.sub(r"[^a-z0-9_]+", "_", name.lower())
    text = re.sub(r"_+", "_", text).strip("_")
    if not text or not text[0].isalpha():
        text = f"{prefix}_{text}" if text else prefix
    return text[:60].rstrip("_")


_SIMPLE = re.compile(r"^(?:[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*|\[\d+\])*|'(?:[^'\\]|\\.)*'|-?\d+(?:\.\d+)?)$")


def group(expr: str) -> str:
    """`expr` in parentheses unless it is a plain name, path or literal."""
    return expr if _SIMPLE.match(expr) else f"({expr})"


def quote(text: str) -> str:
    """A Jinja string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# ---- the conversion ------------------------------------------------------------------------


@dataclass
class _Converter:
    states: list[State]
    initial: str
    trigger: str | None
    subflows: dict[str, str]
    by_name: dict[str, State] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # studio name -> its node id
    entries: dict[str, str] = field(default_factory=dict)  # studio name -> the node a transition enters first
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    saves: dict[str, dict[str, str]] = field(default_factory=dict)  # http widget -> {var: jmespath}
    warnings: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    trigger_body: bool = False
    end_id: str | None = None
    taken: set[str] = field(default_factory=set)

    # -- ids

    def _claim(self, wanted: str) -> str:
        candidate, n = wanted, 2
        while candidate in self.taken:
            suffix = f"_{n}"
            candidate = wanted[: 64 - len(suffix)] + suffix
            n += 1
        self.taken.add(candidate)
        return candidate

    def target(self, studio_name: str | None) -> str:
        """The node id a transition to `studio_name` goes to; no name = the execution ends."""
        if studio_name is None:
            if self.end_id is None:
                self.end_id = self._claim("done")
            return self.end_id
        if studio_name == self.initial:
            return "start"
        return self.entries.get(studio_name, self.ids[studio_name])

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    # -- the whole flow

    def run(self) -> tuple[str, dict[str, Any]]:
        self.by_name = {s.name: s for s in self.states}
        trigger_state = self.by_name[self.initial]
        if trigger_state.type != "trigger":
            raise DraftError(f"initial_state `{self.initial}` is a {trigger_state.type}, not a trigger")
        self.taken.add("start")
        for s in self.states:
            if s.name != self.initial:
                self.ids[s.name] = self._claim(sanitize(s.name))
                if s.type == "send-and-wait-for-reply" and s.properties.get("media_url"):
                    self.entries[s.name] = self._claim(f"{self.ids[s.name]}_media")
        kind, first = self._trigger(trigger_state)
        for s in self.states:
            if s.name != self.initial:
                self._widget(s)
        entry = self.target(first)
        if self.trigger_body:
            capture = self._claim("trigger_message")
            self.nodes = {capture: {"type": "set", "values": {"trigger_body": "message.text"}, "next": entry}, **self.nodes}
            entry = capture
        for studio_name, saves in self.saves.items():
            node = self.nodes.get(self.ids[studio_name])
            if node is not None and node.get("type") == "http":
                node["save"] = dict(sorted(saves.items()))
        nodes = {"start": {"type": "start", "next": entry}, **self.nodes}
        if not any(n.get("type") == "end" for n in nodes.values()):
            self.target(None)
        if self.end_id is not None:
            nodes[self.end_id] = {"type": "end"}
        spec: dict[str, Any] = {"state": "unpublished", "trigger": {"type": kind}}
        if self.variables:
            spec["variables"] = self.variables
        spec["nodes"] = nodes
        return kind, spec

    def _trigger(self, state: State) -> tuple[str, str | None]:
        message = next((e for e in MESSAGE_EVENTS if state.next(e)), None)
        manual = next((e for e in MANUAL_EVENTS if state.next(e)), None)
        if self.trigger == "manual":
            chosen = manual or message
            kind = "manual"
        elif self.trigger is not None:
            chosen = message or manual
            kind = self.trigger
        elif message is not None:
            chosen, kind = message, "whatsapp"
            self.warn("Studio definitions do not say their channel: the flow gets a whatsapp trigger "
                      "(choose another with --trigger, or with --account)")
        elif manual is not None:
            chosen, kind = manual, "manual"
        else:
            chosen, kind = None, self.trigger or "whatsapp"
        if chosen is None:
            if state.next("incomingCall"):
                raise DraftError("this Studio flow handles only calls (incomingCall): voice has no chat equivalent, so there is nothing to import")
            raise DraftError("the Studio trigger leads nowhere: none of its events has a `next`")
        for event in (*MESSAGE_EVENTS, *MANUAL_EVENTS, "incomingCall"):
            other = state.next(event)
            if event != chosen and other:
                self.warn(f"trigger event {event} (to `{other}`) is not imported: a chatflow flow starts one way; "
                          f"the flow starts like {chosen}")
        return kind, state.next(chosen)

    # -- widgets

    def _widget(self, s: State) -> None:
        handler = {
            "send-message": self._send_message,
            "send-and-wait-for-reply": self._send_and_wait,
            "split-based-on": self._split,
            "set-variables": self._set_variables,
            "make-http-request": self._http,
            "run-subflow": self._subflow,
            "send-to-flex": self._flex,
        }.get(s.type)
        if handler is None:
            self._unsupported(s, "no chatflow equivalent" if s.type in KNOWN_UNSUPPORTED else "an unknown widget type")
            return
        handler(s)

    def _unsupported(self, s: State, why: str) -> None:
        node_id = self.ids[s.name]
        outcome = f"unsupported-{sanitize(s.type, 'widget').replace('_', '-')}"
        self.nodes[node_id] = {"type": "end", "outcome": outcome}
        self.unsupported.append(f"{s.name} ({s.type})")
        self.warn(f"widget `{s.name}` ({s.type}): {why}; it became the end node `{node_id}` (outcome {outcome}) "
                  "where the conversation stops; replace it by hand")

    def _dropped_event(self, s: State, event: str, why: str) -> None:
        if s.next(event):
            self.warn(f"widget `{s.name}`: transition {event} (to `{s.next(event)}`) has no equivalent: {why}")

    def _send_message(self, s: State) -> None:
        p = s.properties
        node: dict[str, Any] = {"type": "message"}
        body = self.template(str(p.get("body") or ""), s.name)
        media = p.get("media_url")
        if media:
            url = self.template(str(media), s.name)
            node["media"] = {"kind": media_kind(str(media)), "url": url, **({"caption": body} if body else {})}
        else:
            node["text"] = body
        node["next"] = self.target(s.next("sent"))
        to = str(p.get("to") or "").replace(" ", "")
        if to and to not in ("{{contact.channel.address}}", "{{trigger.message.From}}"):
            self.warn(f"widget `{s.name}` sends to {p.get('to')}; a chatflow message answers the conversation "
                      "(a `send` node with an account messages someone else)")
        self._dropped_event(s, "failed", "messages are queued and retried by the runtime")
        self.nodes[self.ids[s.name]] = node

    def _send_and_wait(self, s: State) -> None:
        p = s.properties
        node_id = self.ids[s.name]
        node: dict[str, Any] = {"type": "question", "text": self.template(str(p.get("body") or ""), s.name),
                                "expect": "text", "save_as": _var(f"{node_id}_reply")}
        seconds = _seconds(p.get("timeout", "3600"))
        if seconds is None:
            self.warn(f"widget `{s.name}`: timeout {p.get('timeout')!r} is not a number of seconds; 3600 is used")
            seconds = 3600
        node["timeout"] = {"after": duration(seconds), "next": self.target(s.next("timeout"))}
        node["next"] = self.target(s.next("incomingMessage"))
        self._dropped_event(s, "deliveryFailure", "delivery failures are retried by the runtime")
        media = p.get("media_url")
        if media:
            self.nodes[self.entries[s.name]] = {"type": "message", "media": {"kind": media_kind(str(media)),
                                                "url": self.template(str(media), s.name)}, "next": node_id}
        self.nodes[node_id] = node

    def _split(self, s: State) -> None:
        default_input = str(s.properties.get("input") or "")
        branches = []
        for t in s.transitions:
            if t.get("event") != "match":
                continue
            conditions = t.get("conditions") or []
            if not conditions:
                self.warn(f"widget `{s.name}`: a match transition without conditions is skipped")
                continue
            parts = [self.condition(c, default_input, s.name) for c in conditions]
            if "false" in parts:
                when = "false"
            else:
                when = parts[0] if len(parts) == 1 else " and ".join(f"({p})" for p in parts)
            branches.append({"when": when, "next": self.target(t.get("next"))})
        node: dict[str, Any] = {"type": "condition"}
        if branches:
            node["branches"] = branches
        else:
            node["branches"] = [{"when": "false", "next": self.target(s.next("noMatch"))}]
            self.warn(f"widget `{s.name}` has no conditions; every conversation takes its noMatch path")
        node["default"] = self.target(s.next("noMatch"))
        self.nodes[self.ids[s.name]] = node

    def _set_variables(self, s: State) -> None:
        values: dict[str, str] = {}
        for item in s.properties.get("variables") or []:
            if not isinstance(item, dict) or "key" not in item:
                continue
            values[_var(str(item["key"]))] = self.expression(str(item.get("value", "")), s.name)
        nxt = self.target(s.next("next"))
        if not values:
            values = {"studio_" + self.ids[s.name]: "true"}
            self.warn(f"widget `{s.name}` sets no variables; it became a set of `vars.studio_{self.ids[s.name]}`")
        self.nodes[self.ids[s.name]] = {"type": "set", "values": values, "next": nxt}

    def _http(self, s: State) -> None:
        p = s.properties
        method = str(p.get("method") or "GET").upper()
        if method not in HTTP_METHODS:
            self.warn(f"widget `{s.name}`: method {method} is not supported; GET is used")
            method = "GET"
        node: dict[str, Any] = {"type": "http", "method": method, "url": self.template(str(p.get("url") or ""), s.name)}
        params = {str(i["key"]): self.template(str(i.get("value", "")), s.name)
                  for i in p.get("parameters") or [] if isinstance(i, dict) and "key" in i}
        content = str(p.get("content_type") or "")
        if method == "GET":
            if params:
                node["query"] = params
        elif "x-www-form-urlencoded" in content or (params and not p.get("body")):
            node["body_type"] = "form"
            if params:
                node["body"] = params
        else:
            if params:
                node["query"] = params
            if p.get("body"):
                node["body"] = self.json_body(str(p["body"]), s.name)
        if p.get("add_twilio_auth"):
            self.warn(f"widget `{s.name}` signs with Twilio credentials; add an Authorization header with "
                      "{env: NAME} if the endpoint needs one")
        node["next"] = self.target(s.next("success"))
        node["on_failure"] = self.target(s.next("failed"))
        self.nodes[self.ids[s.name]] = node

    def _subflow(self, s: State) -> None:
        sid = str(s.properties.get("flow_sid") or "")
        flow = self.subflows.get(sid)
        if flow is None:
            self._unsupported(s, f"its subflow {sid or '(none)'} is not mapped to a flow here (pass --subflow {sid or 'FW...'}=NAME)")
            return
        variables = {_var(str(i["key"])): self.expression(str(i.get("value", "")), s.name)
                     for i in s.properties.get("parameters") or [] if isinstance(i, dict) and "key" in i}
        node: dict[str, Any] = {"type": "start_flow", "flow": flow}
        if variables:
            node["variables"] = variables
        if s.next("completed"):
            self.warn(f"widget `{s.name}`: Studio returns to `{s.next('completed')}` after the subflow; a chatflow "
                      f"start_flow hands the conversation to `{flow}` for good, so that path is not taken")
        self._dropped_event(s, "failed", "start_flow cannot fail once the flow exists")
        self.nodes[self.ids[s.name]] = node

    def _flex(self, s: State) -> None:
        p = s.properties
        note = "Handed over by Twilio Studio widget " + s.name
        if p.get("workflow"):
            note += f" (Flex workflow {p['workflow']})"
        node: dict[str, Any] = {"type": "handoff", "note": note}
        seconds = _seconds(p.get("timeout")) if p.get("timeout") not in (None, "") else None
        if seconds:
            node["timeout"] = duration(seconds)
        node["next"] = self.target(s.next("callComplete"))
        self._dropped_event(s, "failedToEnqueue", "a handoff always waits for a person or its timeout")
        self._dropped_event(s, "callFailure", "calls have no chat equivalent")
        self.nodes[self.ids[s.name]] = node

    # -- Liquid

    def template(self, text: str, widget: str) -> str:
        """Liquid text -> a Jinja template of the same meaning; literal text (and a warning) when impossible."""
        return _Liquid(self, widget).template(text)

    def expression(self, text: str, widget: str) -> str:
        """A Liquid value (literal, one variable, or text around variables) -> a Jinja expression."""
        return _Liquid(self, widget).expression(text)

    def json_body(self, text: str, widget: str) -> Any:
        """A JSON request body with Liquid inside -> data whose strings are templates."""
        held: dict[str, str] = {}

        def hold(match: re.Match[str]) -> str:
            key = f"__liquid_{len(held)}__"
            held[key] = match.group(0)
            return key

        text_held = _TOKENS.sub(hold, text)
        # Studio bodies often leave a variable unquoted (`"n": {{flow.variables.n}}`): quote it.
        for attempt in (text_held, re.sub(r'(?<!")(__liquid_\d+__)(?!")', r'"\1"', text_held)):
            try:
                data = json.loads(attempt)
            except json.JSONDecodeError:
                continue
            return self._restore(data, held, widget)
        self.warn(f"widget `{widget}`: the request body is not JSON; it is sent as a text template")
        return self.template(text, widget)

    def _restore(self, value: Any, held: dict[str, str], widget: str) -> Any:
        if isinstance(value, str):
            return self.template(re.sub(r"__liquid_\d+__", lambda m: held[m.group(0)], value), widget)
        if isinstance(value, dict):
            return {re.sub(r"__liquid_\d+__", lambda m: held[m.group(0)], k): self._restore(v, held, widget)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self._restore(v, held, widget) for v in value]
        return value

    def condition(self, c: Any, default_input: str, widget: str) -> str:
        if not isinstance(c, dict):
            self.warn(f"widget `{widget}`: a condition is not a mapping; it never matches")
            return "false"
        kind = str(c.get("type") or "")
        label = c.get("friendly_name") or kind
        if kind not in CONDITIONS:
            why = "conditions have no clock" if kind.endswith("_time") else "an unknown condition type"
            self.warn(f"widget `{widget}`: condition {label!r} ({kind or 'no type'}) has no chatflow equivalent "
                      f"({why}); its branch never matches; rewrite it")
            return "false"
        args = c.get("arguments") or [default_input]
        subject = group(self.expression(str(args[0] if args else default_input), widget))
        raw = c.get("value")
        value = "" if raw is None else str(raw)
        literal = not expressions.is_template(value)
        norm = f"{subject} | string | trim | lower"
        other = quote(value.strip().lower()) if literal else f"{group(self.expression(value, widget))} | string | trim | lower"
        if kind in ("equal_to", "not_equal_to"):
            return f"{norm} {'==' if kind == 'equal_to' else '!='} {other}"
        if kind in ("matches_any_of", "does_not_match_any_of"):
            if not literal:
                choices = f"({group(self.expression(value, widget))} | string | lower).split(',') | map('trim') | list"
            else:
                unique = dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip())
                choices = "[" + ", ".join(quote(v) for v in unique) + "]"
            return f"{norm} {'in' if kind == 'matches_any_of' else 'not in'} {choices}"
        tests = {"contains": "contains", "does_not_contain": "contains", "starts_with": "startswith",
                 "does_not_start_with": "startswith"}
        if kind in tests:
            operand = quote(value.strip()) if literal else self.expression(value, widget)
            negate = " not" if kind.startswith("does_not") else ""
            return f"{subject} is{negate} {tests[kind]}({operand})"
        if kind in ("is_blank", "is_not_blank"):
            return f"{subject} is {'not ' if kind == 'is_not_blank' else ''}blank"
        if kind == "regex":
            try:
                re.compile(value)
            except re.error as exc:
                self.warn(f"widget `{widget}`: condition {label!r} has an invalid regex ({exc}); it never matches")
                return "false"
            return f"{subject} is matches({quote(value)})"
        if kind in ("less_than", "greater_than"):
            op = "<" if kind == "less_than" else ">"
            if literal:
                number = expressions.to_number(value)
                if number is None:
                    self.warn(f"widget `{widget}`: condition {label!r} compares with {value!r}, not a number; it never matches")
                    return "false"
                bound = repr(number)
            else:
                bound = f"({group(self.expression(value, widget))} | number)"
            return f"{subject} is number and {subject} | number {op} {bound}"
        op = "<" if kind == "is_before_date" else ">"  # the date comparisons remain
        if literal and expressions.to_date(value) is None:
            self.warn(f"widget `{widget}`: condition {label!r} compares with {value!r}, not a date; it never matches")
            return "false"
        bound = f"({quote(value.strip())} | date)" if literal else f"({group(self.expression(value, widget))} | date)"
        return f"{subject} is date and {subject} | date {op} {bound}"

    def path(self, path: str, widget: str) -> str:
        """A Liquid variable path -> a sandbox expression."""
        parts = _split_path(path)
        head = ".".join(parts[:3])
        if head == "trigger.message.Body":
            self.trigger_body = True
            return "vars.trigger_body"
        if head in ("trigger.message.From", "contact.channel.address") or ".".join(parts[:2]) == "contact.channel":
            return "contact.phone"
        if head in ("trigger.message.To", "flow.channel.address"):
            return "account.phone"
        if head == "trigger.message.ProfileName":
            return "contact.name"
        if len(parts) >= 3 and parts[0] == "flow" and parts[1] in ("variables", "data"):
            name = _var(parts[2])
            if parts[1] == "data":
                self.variables.setdefault(name, {"type": "string", "default": ""})
            return "vars." + name + _rest(parts[3:])
        if len(parts) >= 3 and parts[0] == "widgets" and parts[1] in self.by_name:
            source = self.by_name[parts[1]]
            source_id = self.ids.get(source.name, sanitize(source.name))
            if source.type == "send-and-wait-for-reply" and parts[2] == "inbound" and parts[3:4] == ["Body"]:
                return "vars." + _var(f"{source_id}_reply")
            if source.type == "make-http-request" and parts[2] in ("parsed", "body"):
                rest = parts[3:] if parts[2] == "parsed" else []
                var = _var(f"{source_id}_{'_'.join(rest) or ('parsed' if parts[2] == 'parsed' else 'body')}")
                self.saves.setdefault(source.name, {})[var] = _jmespath(rest)
                if parts[2] == "body":
                    self.warn(f"widget `{widget}` reads widgets.{parts[1]}.body (the raw text); it becomes the parsed body in vars.{var}")
                return "vars." + var
        name = _var("studio_" + "_".join(parts))
        self.variables.setdefault(name, {"type": "string", "default": ""})
        self.warn(f"widget `{widget}` reads {{{{{path}}}}}, which has no chatflow equivalent; it reads vars.{name} "
                  "instead, empty unless you set it")
        return "vars." + name


CONDITIONS = {
    "equal_to", "not_equal_to", "matches_any_of", "does_not_match_any_of", "contains", "does_not_contain",
    "starts_with", "does_not_start_with", "is_blank", "is_not_blank", "regex", "less_than", "greater_than",
    "is_before_date", "is_after_date",
}
KNOWN_UNSUPPORTED = {
    "run-function", "say-play", "gather-input-on-call", "connect-call-to", "record-voicemail", "make-outgoing-call-v2",
    "make-outgoing-call", "enqueue-call", "capture-payments", "fork-stream", "connect-virtual-agent", "record-call",
    "add-twiml-redirect", "send-to-autopilot", "set-variables-v2", "start-conversation",
}


def _split_path(path: str) -> list[str]:
    """`widgets.http_1.parsed.items[0].name` -> ['widgets', 'http_1', 'parsed', 'items', '0', 'name']."""
    out: list[str] = []
    for piece in re.findall(r"[^.\[\]'\"]+", path):
        out.append(piece)
    return out


def _rest(parts: list[str]) -> str:
    return "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in parts)


def _jmespath(parts: list[str]) -> str:
    if not parts:
        return "@"
    out = ""
    for p in parts:
        if p.isdigit():
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p):
            out += ("." if out else "") + p
        else:
            out += ("." if out else "") + json.dumps(p)
    return out


def _var(name: str) -> str:
    var = sanitize(name, "v")
    return var if _NODE_ID.fullmatch(var) else "v_" + var


def _seconds(value: Any) -> int | None:
    number = expressions.to_number(value)
    if number is None or number < 0:
        return None
    return int(number)


def duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def media_kind(url: str) -> str:
    path = url.split("?")[0].lower()
    for kind, suffixes in (("image", (".jpg", ".jpeg", ".png", ".gif", ".webp")), ("video", (".mp4", ".3gp", ".mov")),
                           ("audio", (".mp3", ".ogg", ".amr", ".aac", ".m4a", ".opus"))):
        if path.endswith(suffixes):
            return kind
    return "image" if "{{" in path else "document"


# ---- Liquid -> Jinja -------------------------------------------------------------------------

_TOKENS = re.compile(r"(\{\{-?.*?-?\}\}|\{%-?.*?-?%\})", re.S)
_PATH = re.compile(r"^[A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\]|\[(?:'[^']*'|\"[^\"]*\")\])*$")
_LITERAL = re.compile(r"^(?:'[^']*'|\"[^\"]*\"|-?\d+(?:\.\d+)?)$")
_TAG_PATH = re.compile(r"\b(?:trigger|flow|widgets|contact)(?:\.[\w-]+|\[\d+\])+")
_FILTERS = {"upcase": "upper", "downcase": "lower", "capitalize": "capitalize", "strip": "trim", "lstrip": "trim",
            "rstrip": "trim", "size": "length", "url_encode": "urlencode", "escape": "e", "json": "tojson",
            "to_json": "tojson", "first": "first", "last": "last", "join": "join", "abs": "abs", "round": "round",
            "replace": "replace", "truncate": "truncate"}
_ARITHMETIC = {"plus": "+", "minus": "-", "times": "*", "divided_by": "/", "modulo": "%"}


class _Unconvertible(Exception):
    pass


class _Liquid:
    def __init__(self, converter: _Converter, widget: str) -> None:
        self.c = converter
        self.widget = widget
        self.locals: set[str] = set()

    def template(self, text: str) -> str:
        if not expressions.is_template(text):
            return text
        try:
            out = []
            for piece in _TOKENS.split(text):
                if piece.startswith("{{") and piece.endswith("}}"):
                    lead, inner, trail = _trim_marks(piece, "{{", "}}")
                    out.append(f"{{{{{lead} {self.output(inner)} {trail}}}}}")
                elif piece.startswith("{%") and piece.endswith("%}"):
                    lead, inner, trail = _trim_marks(piece, "{%", "%}")
                    out.append(f"{{%{lead} {self.tag(inner)} {trail}%}}")
                else:
                    out.append(piece.replace("{#", "{{ '{#' }}"))
            result = "".join(out)
        except _Unconvertible as exc:
            return self._raw(text, str(exc))
        check = expressions.check_template(result)
        if check.error:
            return self._raw(text, check.error)
        return result

    def _raw(self, text: str, why: str) -> str:
        self.c.warn(f"widget `{self.widget}`: Liquid {_short(text)!r} could not be converted ({why}); it is kept as literal text")
        return "{% raw %}" + text.replace("{% endraw %}", "") + "{% endraw %}"

    def expression(self, text: str) -> str:
        pieces = [p for p in _TOKENS.split(text) if p != ""]
        try:
            parts = []
            for piece in pieces:
                if piece.startswith("{{") and piece.endswith("}}"):
                    parts.append(self.output(_trim_marks(piece, '{{', '}}')[1]))
                elif piece.startswith("{%"):
                    raise _Unconvertible("a tag cannot be a value")
                else:
                    parts.append(quote(piece))
        except _Unconvertible as exc:
            self.c.warn(f"widget `{self.widget}`: value {_short(text)!r} could not be converted ({exc}); it is kept as literal text")
            return quote(text)
        if not parts:
            return "''"
        result = parts[0] if len(parts) == 1 else " ~ ".join(group(p) for p in parts)
        check = expressions.check_expression(result)
        if check.error:
            self.c.warn(f"widget `{self.widget}`: value {_short(text)!r} could not be converted ({check.error}); it is kept as literal text")
            return quote(text)
        return result

    def output(self, inner: str) -> str:
        pieces = _split_outside_quotes(inner, "|")
        current = self.value(pieces[0].strip())
        for piece in pieces[1:]:
            name, _, raw_args = piece.strip().partition(":")
            name = name.strip()
            args = [self.value(a.strip()) for a in _split_outside_quotes(raw_args, ",")] if raw_args.strip() else []
            subject = group(current)
            if name in _ARITHMETIC:
                if len(args) != 1:
                    raise _Unconvertible(f"`{name}` takes one argument")
                current = f"(({subject} | number) or 0) {_ARITHMETIC[name]} ({group(args[0])} | number)"
            elif name == "default":
                current = f"{subject} | default({args[0] if args else quote('')}, true)"
            elif name == "append":
                current = f"{subject} ~ {group(args[0]) if args else quote('')}"
            elif name == "prepend":
                current = f"{group(args[0]) if args else quote('')} ~ {subject}"
            elif name == "remove":
                current = f"{subject} | replace({args[0] if args else quote('')}, '')"
            elif name in _FILTERS:
                current = f"{subject} | {_FILTERS[name]}" + (f"({', '.join(args)})" if args else "")
            else:
                self.c.warn(f"widget `{self.widget}`: Liquid filter `{name}` has no equivalent; it is left out")
        return current

    def value(self, token: str) -> str:
        if not token:
            return "''"
        if _LITERAL.match(token):
            return token
        if token in ("true", "false"):
            return token
        if token in ("nil", "null", "empty", "blank"):
            return "none" if token in ("nil", "null") else "''"
        if _PATH.match(token):
            root = re.split(r"[.\[]", token, maxsplit=1)[0]
            if root in self.locals:
                return token
            return self.c.path(token, self.widget)
        raise _Unconvertible(f"`{token}` is not a variable or a literal")

    def tag(self, inner: str) -> str:
        words = inner.strip().split(None, 1)
        keyword = words[0] if words else ""
        rest = words[1] if len(words) > 1 else ""
        if keyword in ("if", "elsif", "unless"):
            cond = self.condition(rest)
            return {"if": f"if {cond}", "elsif": f"elif {cond}", "unless": f"if not ({cond})"}[keyword]
        if keyword in ("else", "endif", "endfor"):
            return keyword
        if keyword == "endunless":
            return "endif"
        if keyword == "for":
            m = re.fullmatch(r"(\w+)\s+in\s+(\S+)", rest.strip())
            if not m:
                raise _Unconvertible(f"`for {rest}` has parameters chatflow does not know")
            self.locals.add(m.group(1))
            return f"for {m.group(1)} in {self.value(m.group(2))}"
        if keyword == "assign":
            m = re.fullmatch(r"(\w+)\s*=\s*(.+)", rest.strip(), re.S)
            if not m:
                raise _Unconvertible("`assign` needs `name = value`")
            self.locals.add(m.group(1))
            return f"set {m.group(1)} = {self.output(m.group(2))}"
        raise _Unconvertible(f"the `{keyword}` tag has no equivalent")

    def condition(self, text: str) -> str:
        out = _TAG_PATH.sub(lambda m: self.c.path(m.group(0), self.widget), text)
        out = re.sub(r"(\S+)\s+contains\s+(\S+)", r"\1 is contains(\2)", out)
        out = re.sub(r"==\s*(blank|empty)\b", "is blank", out)
        out = re.sub(r"!=\s*(blank|empty)\b", "is not blank", out)
        out = re.sub(r"\bnil\b", "none", out)
        return out


def _trim_marks(piece: str, open_: str, close: str) -> tuple[str, str, str]:
    inner = piece[len(open_): -len(close)]
    lead = trail = ""
    if inner.startswith("-"):
        lead, inner = "-", inner[1:]
    if inner.endswith("-"):
        trail, inner = "-", inner[:-1]
    return lead, inner.strip(), trail


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    out, buf, quote_char = [], "", None
    for ch in text:
        if quote_char:
            buf += ch
            if ch == quote_char:
                quote_char = None
        elif ch in "'\"":
            quote_char = ch
            buf += ch
        elif ch == sep:
            out.append(buf)
            buf = ""
        else:
            buf += ch
    out.append(buf)
    return out


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


# ---- the entry point -----------------------------------------------------------------------


def definition_of(data: Any) -> tuple[dict[str, Any], str | None]:
    """The flow definition and, for a REST API Flow resource, its friendly_name."""
    if isinstance(data, dict) and isinstance(data.get("definition"), dict):
        return data["definition"], data.get("friendly_name") if isinstance(data.get("friendly_name"), str) else None
    if not isinstance(data, dict):
        raise DraftError("a Twilio Studio flow definition is a JSON object with `states` and `initial_state`")
    return data, None


def convert(data: Any, name: str, trigger: str | None = None, account: str | None = None,
            subflows: dict[str, str] | None = None, display_name: str | None = None,
            remark: str | None = None) -> Imported:
    """A Studio flow definition -> manifests of a new, unpublished Flow, with warnings for what did not carry over."""
    definition, friendly = definition_of(data)
    states, initial = _states(definition)
    converter = _Converter(states, initial, trigger, dict(subflows or {}))
    kind, spec = converter.run()
    spec["trigger"] = bind(spec["trigger"], account)
    description = definition.get("description") if isinstance(definition.get("description"), str) else None
    metadata: dict[str, Any] = {"name": name}
    title = display_name or friendly or description
    if title:
        metadata["displayName"] = title[:200]
    note = remark if remark is not None else (description if friendly and description else None)
    metadata["remark"] = (note or "Converted from a Twilio Studio flow definition")[:1000]
    annotations = {"chatflow/imported-from": "twilio-studio"}
    if converter.unsupported:
        annotations["chatflow/unsupported"] = ", ".join(converter.unsupported)
    metadata["annotations"] = annotations
    flow = {"apiVersion": API_VERSION, "kind": "Flow", "metadata": metadata, "spec": spec}
    return Imported(flow, [], list(converter.warnings))

