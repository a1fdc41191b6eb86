"""Reading Server-Sent Events off an httpx streaming response, as a frontend would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Event:
    event: str
    data: str
    id: str | None = None  # on a resumable stream

    def json(self) -> Any:
        return json.loads(self.data)


async def aiter_events(response: httpx.Response):  # type: ignore[no-untyped-def]
    event, data, event_id = None, [], None
    async for line in response.aiter_lines():
        if line == "":
            if event or data:
                yield Event(event or "message", "\n".join(data), event_id)
            event, data, event_id = None, [], None
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("id:"):
            event_id = line[3:].strip()
    if event or data:
        yield Event(event or "message", "\n".join(data), event_id)


async def read_events(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> list[Event]:
    async with client.stream("POST", url, json=body) as response:
        assert response.status_code == 200, await response.aread()
        return [event async for event in aiter_events(response)]
