"""A suite template may pass a case's chat through as it is (`messages_var`): the shape of the
regression suites `tuieval redteam --save-attacks` writes."""

from __future__ import annotations

from tuieval.suite import load_suite
from tuieval.suite.loader import validate

SUITE = """\
name: chat
templates:
  - id: attack
    prompt: "{{ conversation }}"
    messages_var: conversation
cases:
  - id: a
    conversation:
      - {role: user, content: "Hi {{ not_a_placeholder }}"}
      - {role: assistant, content: "Hello."}
      - {role: user, content: "Capital of France?"}
    target: Paris
"""


def test_the_conversation_is_sent_as_it_is(tmp_path):
    path = tmp_path / "chat.yaml"
    path.write_text(SUITE, encoding="utf-8")
    assert validate(path) == []
    suite = load_suite(path)
    messages = suite.templates[0].render(suite.cases[0])
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "Hi {{ not_a_placeholder }}"  # attack text is data, never a placeholder


def test_a_case_without_a_message_list_or_with_a_bad_role_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SUITE.replace("role: assistant", "role: robot") + "  - {id: b, conversation: hello, target: x}\n",
                    encoding="utf-8")
    problems = [f"{p.field}: {p.message}" for p in validate(path)]
    assert any("case 'b' has no list of messages" in p for p in problems), problems
    assert any("role must be system, user or assistant" in p for p in problems), problems
