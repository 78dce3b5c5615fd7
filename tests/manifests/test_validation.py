"""Semantic validation, rule by rule: what each rule rejects, and what it deliberately allows."""

from __future__ import annotations

from pathlib import Path

from controller.manifests.diagnostics import CODES, Severity

from .conftest import WA_ACCOUNT, account, codes, flow, load, load_files, only, place

HELLO = """
start: {type: start, next: hello}
hello: {type: message, text: Hi!, next: done}
done: {type: end}
"""


def test_a_minimal_flow_is_valid():
    catalog = load(flow(HELLO))
    assert catalog.diagnostics == []
    assert list(catalog.flows) == ["f"]


def test_every_code_has_a_severity_and_a_title():
    for code, entry in CODES.items():
        assert entry.code == code and entry.title and isinstance(entry.severity, Severity)


# ---- start and end ---------------------------------------------------------------------------


def test_a_flow_needs_exactly_one_start():
    none = load(flow("hello: {type: message, text: Hi!, next: done}\ndone: {type: end}"))
    two = load(flow(HELLO + "again: {type: start, next: hello}"))
    assert "CF100" in codes(none)
    assert only(two, "CF101").message.startswith("`again` is a second start node")


def test_a_flow_needs_an_end_even_when_it_hands_over_with_start_flow():
    catalog = load(flow("start: {type: start, next: go}\ngo: {type: start_flow, flow: f}"))
    assert codes(catalog) == ["CF102"]


# ---- targets ---------------------------------------------------------------------------------


def test_every_target_field_must_name_a_node():
    catalog = load(flow("""
        start: {type: start, next: ask}
        ask:
          type: question
          text: Order number?
          expect: number
          timeout: {after: 1h, next: gone}
          on_invalid: nowhere
          next: lookup
        lookup: {type: http, url: "https://x.example/o", next: done, on_failure: broken}
        route: {type: condition, branches: [{when: "true", next: missing}], default: done}
        jump: {type: goto, target: elsewhere, max_jumps: 2, next: done}
        done: {type: end}
    """))
    messages = sorted(d.message for d in catalog.diagnostics if d.code == "CF103")
    assert messages == [
        "`ask.on_invalid: nowhere` names no node",
        "`ask.timeout.next: gone` names no node",
        "`jump.target: elsewhere` names no node",
        "`lookup.on_failure: broken` names no node",
        "`route.branches[0].next: missing` names no node",
    ]


def test_a_missing_target_suggests_the_closest_node():
    catalog = load(flow(HELLO.replace("next: done", "next: dne")))
    assert only(catalog, "CF103").hint == "did you mean `done`?"


# ---- reachability and loops ------------------------------------------------------------------


def test_an_unreachable_node_is_a_warning_that_keeps_the_flow_valid():
    catalog = load(flow(HELLO + "orphan: {type: message, text: lost, next: done}"))
    d = only(catalog, "CF104")
    assert d.severity is Severity.WARNING and "orphan" in d.message
    assert "f" in catalog.flows and catalog.invalid == {}


def test_unreachable_nodes_are_not_reported_while_a_target_is_broken():
    # `hello -> dne` cuts `done` off; only the broken target is reported until it is fixed
    catalog = load(flow(HELLO.replace("next: done", "next: dne")))
    assert codes(catalog) == ["CF103"]


def test_nodes_reached_only_through_a_timeout_or_on_invalid_are_reachable():
    catalog = load(flow("""
        start: {type: start, next: ask}
        ask: {type: question, text: Age?, expect: number, timeout: {after: 5m, next: nudge}, on_invalid: sorry, next: done}
        nudge: {type: message, text: Still there?, next: done}
        sorry: {type: message, text: Sorry, next: done}
        done: {type: end}
    """))
    assert "CF104" not in codes(catalog)


def test_a_loop_without_a_waiting_node_would_spin():
    catalog = load(flow("""
        start: {type: start, next: a}
        a: {type: set, values: {n: "1"}, next: b}
        b: {type: condition, branches: [{when: "vars.n == 2", next: done}], default: a}
        done: {type: end}
    """))
    d = only(catalog, "CF105")
    assert d.message == "a -> b -> a is a loop with no waiting node: it would spin"
    assert "f" not in catalog.flows and ("Flow", "f") in catalog.invalid


def test_a_node_that_leads_to_itself_spins():
    catalog = load(flow("start: {type: start, next: a}\na: {type: set, values: {n: '1'}, next: a}\ndone: {type: end}"))
    assert "CF105" in codes(catalog)


def test_loops_through_a_question_a_delay_or_a_handoff_are_legal():
    for waiting in (
        "{type: question, text: Again?, next: back}",
        "{type: delay, duration: 1h, next: back}",
        "{type: handoff, note: help, next: back}",
    ):
        catalog = load(flow(f"""
            start: {{type: start, next: wait}}
            wait: {waiting}
            back: {{type: condition, branches: [{{when: "reply.text == 'stop'", next: done}}], default: wait}}
            done: {{type: end}}
        """))
        assert "CF105" not in codes(catalog), waiting


def test_a_goto_with_max_jumps_bounds_a_loop():
    catalog = load(flow("""
        start: {type: start, next: call}
        call: {type: http, url: "https://x.example", next: done, on_failure: retry}
        retry: {type: goto, target: call, max_jumps: 3, next: give_up}
        give_up: {type: message, text: Sorry, next: done}
        done: {type: end}
    """))
    assert catalog.diagnostics == []


def test_a_goto_whose_next_leads_back_into_the_loop_still_spins():
    catalog = load(flow("""
        start: {type: start, next: call}
        call: {type: http, url: "https://x.example", next: done, on_failure: retry}
        retry: {type: goto, target: call, max_jumps: 3, next: call}
        done: {type: end}
    """))
    assert "CF105" in codes(catalog)


def test_a_goto_to_a_node_that_never_leads_back_is_a_warning():
    catalog = load(flow(HELLO.replace("next: done}", "next: jump}") + "jump: {type: goto, target: done, max_jumps: 1, next: done}"))
    assert only(catalog, "CF107").severity is Severity.WARNING


def test_a_condition_without_default_leaves_a_path_with_no_way_out():
    catalog = load(flow("""
        start: {type: start, next: route}
        route: {type: condition, branches: [{when: "channel == 'viber'", next: done}]}
        done: {type: end}
    """))
    d = only(catalog, "CF106")
    assert "has no `default`" in d.message and d.hint == "add `default: <node>`"


# ---- variables ------------------------------------------------------------------------------


def test_reading_a_variable_no_earlier_step_sets_is_a_warning():
    catalog = load(flow("""
        start: {type: start, next: greet}
        greet: {type: message, text: "Hi {{ vars.name }}", next: ask}
        ask: {type: question, text: Name?, save_as: name, next: done}
        done: {type: end}
    """))
    d = only(catalog, "CF110")
    assert d.severity is Severity.WARNING and "`vars.name`" in d.message


def test_variables_declared_saved_set_or_fetched_before_use_are_fine():
    catalog = load(flow("""
        start: {type: start, next: ask}
        ask: {type: question, text: "Hi {{ vars.greeting }}! Name?", save_as: name, next: calc}
        calc: {type: set, values: {upper: "vars.name | upper"}, next: fetch}
        fetch: {type: http, url: "https://x.example/{{ vars.upper }}", save: {status: status}, next: tell, on_failure: done}
        tell: {type: message, text: "{{ vars.name }}: {{ vars.status }}", next: done}
        done: {type: end}
    """, extra="variables: {greeting: {type: string, default: there}}"))
    assert catalog.diagnostics == []


def test_a_variable_set_on_one_branch_only_counts_as_possibly_set():
    catalog = load(flow("""
        start: {type: start, next: route}
        route: {type: condition, branches: [{when: "channel == 'viber'", next: remember}], default: tell}
        remember: {type: set, values: {seen: "true"}, next: tell}
        tell: {type: message, text: "{{ vars.seen }}", next: done}
        done: {type: end}
    """))
    assert "CF110" not in codes(catalog)


def test_a_condition_that_reads_a_variable_counts_as_a_read():
    catalog = load(flow("""
        start: {type: start, next: route}
        route: {type: condition, branches: [{when: "vars.vip", next: done}], default: done}
        done: {type: end}
    """))
    assert "CF110" in codes(catalog)


# ---- templates and expressions -------------------------------------------------------------


def test_templates_and_conditions_are_compiled_in_the_sandbox():
    catalog = load(flow("""
        start: {type: start, next: route}
        route:
          type: condition
          branches:
            - {when: "message.text is contains('refund') and message.text | number > 3", next: done}
            - {when: "reply.id == 'x' or contact.name is blank", next: done}
            - {when: "message.text is fullmatch('[0-9]{4}')", next: done}
          default: tell
        tell: {type: message, text: "{% for c in [1, 2] %}{{ loop.index }}{% endfor %} {{ flow.name }} {{ channel }}", next: done}
        done: {type: end}
    """))
    assert catalog.diagnostics == []


def test_a_template_syntax_error_names_the_field():
    catalog = load(flow(HELLO.replace("text: Hi!", 'text: "Hi {{ contact.name"')))
    d = only(catalog, "CF111")
    assert d.message.startswith("`hello.text`: template does not compile")


def test_a_whole_expression_that_is_an_unknown_name_filter_or_test_is_caught():
    for expression, code, hint in (
        ("user", "CF113", None),
        ("var.x", "CF113", "did you mean `vars`?"),
        ("vars.x | numbr", "CF112", "did you mean `number`?"),
        ("vars.x is startwith('a')", "CF112", "did you mean `startswith`?"),
    ):
        catalog = load(flow(f"""
            start: {{type: start, next: route}}
            route: {{type: condition, branches: [{{when: "{expression}", next: done}}], default: done}}
            done: {{type: end}}
        """, extra="variables: {x: {type: string}}"))
        assert only(catalog, code).hint == hint, expression


def test_a_regular_expression_that_does_not_compile_is_caught_before_it_runs():
    catalog = load(flow("""
        start: {type: start, next: route}
        route: {type: condition, branches: [{when: "message.text is matches('(unclosed')", next: done}], default: done}
        done: {type: end}
    """))
    assert "regular expression" in only(catalog, "CF111").message


def test_templates_cannot_load_other_templates():
    catalog = load(flow(HELLO.replace("text: Hi!", "text: \"{% import 'x' as y %}\"")))
    assert "cannot load other templates" in only(catalog, "CF111").message


def test_http_save_paths_must_be_jmespath():
    catalog = load(flow("""
        start: {type: start, next: call}
        call: {type: http, url: "https://x.example", save: {ok: "items[0].id", bad: "items[?"}, next: done, on_failure: done}
        done: {type: end}
    """))
    d = only(catalog, "CF114")
    assert d.message.startswith("`call.save.bad`")


# ---- trigger and accounts ---------------------------------------------------------------------


def test_a_manual_trigger_never_takes_an_account():
    catalog = load(flow(HELLO, trigger="{type: manual, account: acme-wa}"), WA_ACCOUNT)
    assert codes(catalog) == ["CF120"]


def test_a_message_trigger_needs_an_account_only_to_publish():
    unpublished = load(flow(HELLO, trigger="{type: whatsapp}"))
    published = load(flow(HELLO, trigger="{type: whatsapp}", state="published"))
    assert unpublished.diagnostics == []
    assert codes(published) == ["CF121"]


def test_the_account_channel_must_equal_the_trigger_type():
    catalog = load(flow(HELLO, trigger="{type: messenger, account: acme-wa}"), WA_ACCOUNT)
    assert only(catalog, "CF122").message == "account `acme-wa` is a whatsapp account; this trigger is messenger"


def test_the_account_must_exist_somewhere_under_the_root():
    elsewhere = load_files({"flows.d/a.yaml": flow(HELLO, trigger="{type: whatsapp, account: acme-wa}"),
                            "flows.d/accounts/wa.yaml": WA_ACCOUNT})
    missing = load(flow(HELLO, trigger="{type: whatsapp, account: acme-wa}"))
    assert elsewhere.diagnostics == []
    assert only(missing, "CF123").hint == "there are no accounts"


def test_a_reference_to_an_invalid_account_reports_only_the_account():
    broken = WA_ACCOUNT.replace("{env: WA_TOKEN}", "literal-token")
    catalog = load(flow(HELLO, trigger="{type: whatsapp, account: acme-wa}"), broken)
    assert codes(catalog) == ["CF140"]


def test_keywords_conflict_on_one_account_trimmed_and_case_folded():
    a = flow(HELLO, name="a", trigger="{type: whatsapp, account: acme-wa, keywords: [Order]}", state="published")
    b = flow(HELLO, name="b", trigger="{type: whatsapp, account: acme-wa, keywords: ['  oRDER ']}", state="published")
    catalog = load(a, b, WA_ACCOUNT)
    d = only(catalog, "CF124")
    assert d.severity is Severity.WARNING and d.subject == ("Flow", "b")
    assert "already starts flow `a`" in d.message


def test_keywords_do_not_conflict_across_accounts_or_with_unpublished_flows():
    other = account("acme-wa2", "whatsapp", channel_id="2002")
    a = flow(HELLO, name="a", trigger="{type: whatsapp, account: acme-wa, keywords: [order]}", state="published")
    b = flow(HELLO, name="b", trigger="{type: whatsapp, account: acme-wa2, keywords: [order]}", state="published")
    c = flow(HELLO, name="c", trigger="{type: whatsapp, account: acme-wa, keywords: [order]}")
    assert load(a, b, c, WA_ACCOUNT, other).diagnostics == []


def test_two_published_default_flows_on_one_account_conflict():
    a = flow(HELLO, name="a", trigger="{type: whatsapp, account: acme-wa}", state="published")
    b = flow(HELLO, name="b", trigger="{type: whatsapp, account: acme-wa}", state="published")
    assert only(load(a, b, WA_ACCOUNT), "CF124").subject == ("Flow", "b")


def test_keywords_on_a_manual_trigger_are_a_warning():
    assert only(load(flow(HELLO, trigger="{type: manual, keywords: [go]}")), "CF125").severity is Severity.WARNING


def test_a_channel_id_belongs_to_one_account():
    a = account("one", "messenger", channel_id="555")
    b = account("two", "messenger", channel_id="555")
    c = account("three", "instagram", channel_id="555")  # another channel: its own id space
    catalog = load(a, b, c)
    assert only(catalog, "CF126").subject == ("Account", "two")


def test_names_are_unique_per_kind_not_across_kinds():
    same_kind = load(flow(HELLO, name="x"), flow(HELLO, name="x"))
    other_kinds = load(flow(HELLO, name="acme-wa"), WA_ACCOUNT)
    assert "first defined at flows.d/test.yaml:3" in only(same_kind, "CF020").hint
    assert other_kinds.diagnostics == []


# ---- secrets --------------------------------------------------------------------------------


def test_literal_credentials_are_rejected():
    catalog = load(WA_ACCOUNT.replace("{env: WA_SECRET}", '"0123abcd"'))
    d = only(catalog, "CF140")
    assert "spec.credentials.appSecret" in d.message and "{env: NAME}" in d.hint


def test_a_literal_secret_header_is_rejected_but_templates_and_plain_headers_are_not():
    catalog = load(flow("""
        start: {type: start, next: call}
        call:
          type: http
          url: https://x.example
          headers:
            X-Api-Key: abc123
            Accept: application/json
            Authorization: "Bearer {{ vars.token }}"
            X-Token: {env: TOKEN}
          next: done
          on_failure: done
        done: {type: end}
    """, extra="variables: {token: {type: string}}"))
    assert [d.message for d in catalog.diagnostics if d.code == "CF140"] == ["header `X-Api-Key` of `call` holds a literal secret"]


def test_a_secret_file_must_lie_outside_the_manifest_root(tmp_path: Path):
    root = tmp_path / "flows.d"
    inside = account("v", "viber").replace("{env: T}", f"{{file: {root / 'token'}}}")
    outside = account("w", "viber").replace("{env: T}", f"{{file: {tmp_path / 'secrets' / 'token'}}}")
    catalog = load(inside, outside, secret_root=root)
    assert only(catalog, "CF141").subject == ("Account", "v")


# ---- channel limits -------------------------------------------------------------------------


def _ask(buttons: str, trigger: str = "{type: whatsapp, account: acme-wa}", text: str = "Pick one") -> str:
    return flow(f"""
        start: {{type: start, next: ask}}
        ask: {{type: question, text: "{text}", buttons: {buttons}, save_as: pick, next: done}}
        done: {{type: end}}
    """, trigger=trigger)


def test_whatsapp_shows_three_buttons_and_degrades_more_with_a_warning():
    three = load(_ask("[a, b, c]"), WA_ACCOUNT)
    four = load(_ask("[a, b, c, d]"), WA_ACCOUNT)
    assert three.diagnostics == []
    d = only(four, "CF130")
    assert d.severity is Severity.WARNING and "a list message" in d.message
    assert "f" in four.flows


def test_messenger_and_instagram_show_thirteen_quick_replies():
    for channel in ("messenger", "instagram"):
        trigger = f"{{type: {channel}, account: acct}}"
        ok = load(_ask("[" + ", ".join(f"b{i}" for i in range(13)) + "]", trigger), account("acct", channel))
        over = load(_ask("[" + ", ".join(f"b{i}" for i in range(14)) + "]", trigger), account("acct", channel))
        assert ok.diagnostics == [], channel
        assert "numbered text" in only(over, "CF130").message, channel


def test_button_titles_over_twenty_characters_are_errors_unless_templated():
    ok = load(_ask("[" + "x" * 20 + "]"), WA_ACCOUNT)
    long = load(_ask("[" + "x" * 21 + "]"), WA_ACCOUNT)
    templated = load(_ask('["{{ contact.name }} and a very long tail"]'), WA_ACCOUNT)
    assert ok.diagnostics == [] and templated.diagnostics == []
    assert only(long, "CF131").message.endswith("is 21 characters; whatsapp allows 20")


def test_viber_takes_long_button_titles():
    assert load(_ask("[" + "x" * 60 + "]", "{type: viber, account: v}"), account("v", "viber")).diagnostics == []


def _list(rows: int, sections: int = 1, trigger: str = "{type: whatsapp, account: acme-wa}", title: str = "Row") -> str:
    per = [rows // sections + (1 if i < rows % sections else 0) for i in range(sections)]
    parts, n = [], 0
    for s, count in enumerate(per):
        items = ", ".join(f"{{id: r{n + i}, title: {title}{n + i}}}" for i in range(count))
        parts.append(f"{{title: Section {s}, rows: [{items}]}}")
        n += count
    return flow(f"""
        start: {{type: start, next: ask}}
        ask: {{type: question, text: Pick one, list: {{button: Choose, sections: [{', '.join(parts)}]}}, save_as: pick, next: done}}
        done: {{type: end}}
    """, trigger=trigger)


def test_whatsapp_lists_hold_ten_rows_in_all():
    assert load(_list(10, sections=3), WA_ACCOUNT).diagnostics == []
    assert only(load(_list(11, sections=3), WA_ACCOUNT), "CF131").message == "`ask.list` has 11 rows; whatsapp allows 10 in all"


def test_whatsapp_list_row_titles_hold_twenty_four_characters():
    assert load(_list(2, title="A" * 23), WA_ACCOUNT).diagnostics == []  # titles A..A0, A..A1: 24 characters
    assert codes(load(_list(2, title="A" * 24), WA_ACCOUNT)) == ["CF131", "CF131"]


def test_a_list_on_a_channel_without_lists_is_degraded_with_a_warning():
    catalog = load(_list(3, trigger="{type: messenger, account: page}"), account("page", "messenger"))
    assert "quick replies" in only(catalog, "CF130").message


def test_whatsapp_interactive_body_is_limited_to_1024_characters():
    ok = load(_ask("[a, b]", text="x" * 1024), WA_ACCOUNT)
    long = load(_ask("[a, b]", text="x" * 1025), WA_ACCOUNT)
    assert ok.diagnostics == []
    assert "in a message with buttons or a list" in only(long, "CF131").message


def test_instagram_counts_text_in_bytes():
    def say(text: str) -> str:
        return flow(f'start: {{type: start, next: m}}\nm: {{type: message, text: "{text}", next: done}}\ndone: {{type: end}}',
                    trigger="{type: instagram, account: ig}")

    assert load(say("a" * 1000), account("ig", "instagram")).diagnostics == []
    assert "1002 bytes" in only(load(say("é" * 501), account("ig", "instagram")), "CF131").message


def test_send_nodes_are_checked_against_their_account_channel():
    catalog = load(flow("""
        start: {type: start, next: tell}
        tell: {type: send, account: acme-wa, to: "+15550001111", text: Pick, buttons: [a, b, c, d], next: done}
        done: {type: end}
    """), WA_ACCOUNT)
    assert codes(catalog) == ["CF130"]


def test_manual_flows_messages_have_no_channel_to_check():
    assert load(_ask("[a, b, c, d, e]", trigger="{type: manual}")).diagnostics == []


def test_viber_sender_names_hold_twenty_eight_characters():
    assert load(account("v", "viber", sender="A" * 28)).diagnostics == []
    assert place(load(account("v", "viber", sender="A" * 29)), "CF131") == (7, 23)


# ---- cross-manifest references --------------------------------------------------------------


def test_start_flow_and_send_must_name_existing_manifests():
    catalog = load(flow("""
        start: {type: start, next: tell}
        tell: {type: send, account: nobody, to: "+1555", text: hi, next: go}
        go: {type: start_flow, flow: nothing}
        done: {type: end}
    """))
    assert sorted(codes(catalog)) == ["CF104", "CF151", "CF152"]


def test_a_flow_test_must_name_a_flow_and_its_nodes():
    good = "apiVersion: chatflow/v1\nkind: FlowTest\nmetadata: {name: t}\nspec: {flow: f, steps: [{say: hi, expect: {node: hello}}]}\n"
    catalog = load(flow(HELLO), good, good.replace("name: t", "name: u").replace("node: hello", "node: helo"),
                   good.replace("name: t", "name: v").replace("flow: f", "flow: g"))
    assert sorted(codes(catalog)) == ["CF150", "CF153"]
    assert only(catalog, "CF153").hint == "did you mean `hello`?"


def test_errors_mark_only_their_own_manifest_invalid():
    catalog = load(flow(HELLO, name="good"), flow(HELLO.replace("next: done", "next: gone"), name="bad"))
    assert list(catalog.flows) == ["good"]
    assert list(catalog.invalid) == [("Flow", "bad")]


def test_a_badly_broken_manifest_reports_its_first_101_problems_and_says_so():
    broken_targets = "\n".join(f"n{i}: {{type: message, text: hi, next: gone{i}}}" for i in range(150))
    unknown_fields = "\n".join(f"n{i}: {{type: end, extra{i}: 1}}" for i in range(150))
    for nodes in (broken_targets, unknown_fields):
        catalog = load(flow("start: {type: start, next: n0}\ndone: {type: end}\n" + nodes))
        assert len(catalog.diagnostics) == 101
        assert sum("only the first 101 problems of this manifest are shown" in d.message for d in catalog.diagnostics) == 1
