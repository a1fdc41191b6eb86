"""Where a prompt's words are in OpenAI's protocol, and the answer's: each text of a body or
an answer, named where it is (`messages[2].content`), read or rewritten.

A body's texts are a message's content and its parts, a tool call's arguments (read as JSON
where they are JSON, so an escaped value is read too) and a tool's result, a completion's
prompt and suffix, an embedding's or a moderation's input. An answer's are its messages'
content and tool-call arguments, or its completions' text. Every dialect is translated onto
this protocol, and a chain's prompt arrives in it, so the guardrails and the moderation read
every route's texts here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

Rewrite = Callable[[str, str], str]  # (text, where it is) -> the text to use


def _json_texts(text: str, where: str, rewrite: Rewrite) -> str:
    """A tool call's arguments: its JSON's strings one by one, or the text if not JSON."""
    try:
        value = json.loads(text)
    except ValueError:
        return rewrite(text, where)
    changed = _strings(value, where, rewrite)
    return text if changed is value else json.dumps(changed, ensure_ascii=False)


def _strings(value: Any, where: str, rewrite: Rewrite) -> Any:
    if isinstance(value, str):
        return rewrite(value, where)
    if isinstance(value, dict):
        new = {key: _strings(item, f"{where}.{key}", rewrite) for key, item in value.items()}
        return value if all(new[key] is value[key] for key in value) else new
    if isinstance(value, list):
        items = [_strings(item, f"{where}[{place}]", rewrite) for place, item in enumerate(value)]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _message(message: Any, where: str, rewrite: Rewrite) -> Any:
    if not isinstance(message, dict):
        return message
    new = dict(message)
    if "content" in message:
        new["content"] = _texts_or_list(message["content"], f"{where}.content", rewrite)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        new["tool_calls"] = [_tool_call(call, f"{where}.tool_calls[{place}]", rewrite)
                             for place, call in enumerate(calls)]  # fmt: skip
    return new


def _tool_call(call: Any, where: str, rewrite: Rewrite) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
        return call
    arguments = _json_texts(function["arguments"], f"{where}.function.arguments", rewrite)
    return {**call, "function": {**function, "arguments": arguments}}


def _text_or_part(value: Any, where: str, rewrite: Rewrite) -> Any:
    """A text, or a part of a multimodal input (`{"type": "text", "text": ...}`)."""
    if isinstance(value, str):
        return rewrite(value, where)
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return {**value, "text": rewrite(value["text"], f"{where}.text")}
    return value


def _texts_or_list(value: Any, where: str, rewrite: Rewrite) -> Any:
    if isinstance(value, list):
        return [_text_or_part(item, f"{where}[{place}]", rewrite)
                for place, item in enumerate(value)]  # fmt: skip
    return _text_or_part(value, where, rewrite)


def rewrite_body(body: Mapping[str, Any], rewrite: Rewrite) -> dict[str, Any]:
    """`body` with each of its prompt's texts rewritten (module doc)."""
    new = dict(body)
    if isinstance(body.get("messages"), list):
        new["messages"] = [_message(message, f"messages[{place}]", rewrite)
                           for place, message in enumerate(body["messages"])]  # fmt: skip
    for name in ("prompt", "input", "suffix"):
        if name in body:
            new[name] = _texts_or_list(body[name], name, rewrite)
    return new


def texts_of(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The body's texts, each with where it is."""
    found: list[tuple[str, str]] = []

    def read(text: str, where: str) -> str:
        found.append((text, where))
        return text

    rewrite_body(body, read)
    return found


def rewrite_answer(data: Mapping[str, Any], rewrite: Rewrite) -> dict[str, Any]:
    """An answer's data with each choice's texts rewritten."""
    choices = data.get("choices")
    if not isinstance(choices, list):
        return dict(data)
    new_choices = []
    for place, choice in enumerate(choices):
        if not isinstance(choice, dict):
            new_choices.append(choice)
            continue
        choice = dict(choice)
        if isinstance(choice.get("text"), str):
            choice["text"] = rewrite(choice["text"], f"choices[{place}].text")
        if isinstance(choice.get("message"), dict):
            choice["message"] = _message(choice["message"], f"choices[{place}].message", rewrite)
        new_choices.append(choice)
    return {**data, "choices": new_choices}
