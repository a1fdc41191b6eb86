"""The hosted tools' rounds, as logic (api/hosted_tools.py): which of a streamed answer's calls
are the platform's to make and which the client's, and when the model is offered them no more.
What a whole request does with them is in test_responses_hosted_tools.py."""

from __future__ import annotations

from typing import Any

from mcp import types

from app.api.hosted_tools import MAX_ROUNDS, HostedTools, Listing, StreamedRound
from app.tenants.models import Principal

LOOKUP = types.Tool(name="lookup", inputSchema={"type": "object"})
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}


def hosted(max_calls: int | None = None) -> HostedTools:
    # No call is made here: the tool calls and the principal are not reached.
    return HostedTools(None, Principal.__new__(Principal), "r", [Listing("crm", [LOOKUP])],  # type: ignore[arg-type]
                       max_calls)  # fmt: skip


def payload(*client_tools: dict[str, Any]) -> dict[str, Any]:
    tools = [*client_tools, *hosted().offered()]
    return {"messages": [{"role": "user", "content": "Who?"}], "tools": tools,
            "tool_choice": "required", "max_tokens": 10}  # fmt: skip


def chunk(**delta: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def call(index: int, name: str | None = None, arguments: str = "") -> dict[str, Any]:
    function = {"arguments": arguments} | ({"name": name} if name else {})
    return {"index": index, **({"id": f"call_{index}"} if name else {}), "function": function}


def test_a_streamed_rounds_hosted_calls_are_kept_back_and_the_clients_passed_on():
    tools = hosted()
    streamed = StreamedRound(tools)
    chunks = [
        chunk(content="Let me look. "),
        chunk(tool_calls=[call(0, "crm__lookup", '{"id"'), call(1, "get_weather")]),
        chunk(tool_calls=[call(0, arguments=': "c-7"}'), call(1, arguments="{}")]),
    ]
    deltas = [streamed.passed(one)["choices"][0]["delta"] for one in chunks]
    relayed = [one["function"] for delta in deltas for one in delta.get("tool_calls", [])]
    assert relayed == [{"name": "get_weather", "arguments": ""}, {"arguments": "{}"}]
    message = streamed.message()
    [pending] = tools.pending(message)
    assert (pending.label, pending.tool, pending.arguments) == ("crm", "lookup", '{"id": "c-7"}')
    assert tools.client_called(message), "the client's call ends the request"
    assert streamed.said == "Let me look. "


def test_rounds_follow_with_the_answers_until_max_tool_calls_then_without_the_hosted_tools():
    tools = hosted(max_calls=2)
    sent = payload(WEATHER)
    [first] = tools.pending({"tool_calls": [{"id": "a", "function": {"name": "crm__lookup"}}]})
    sent = tools.next_payload(sent, None, [first])
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool"]
    assert len(sent["tools"]) == 2 and sent["tool_choice"] == "auto", "it called: it may answer"
    [second] = tools.pending({"tool_calls": [{"id": "b", "function": {"name": "crm__lookup"}}]})
    sent = tools.next_payload(sent, "Again.", [second])
    assert sent["tools"] == [WEATHER], "spent: only the client's own remain"
    assert not tools.owns("crm__lookup") and tools.done[1] == "Again."


def test_without_a_limit_the_rounds_stop_at_max_rounds_and_no_tools_are_left():
    tools = hosted()
    sent = payload()
    for round_ in range(MAX_ROUNDS):
        assert "tools" in sent, f"offered in round {round_ + 1}"
        pending = tools.pending({"tool_calls": [{"id": "x", "function": {"name": "crm__lookup"}}]})
        sent = tools.next_payload(sent, None, pending)
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(sent)
