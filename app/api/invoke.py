"""`/<use case>/invoke`, answered in LangServe's shape without LangServe's extra work.

LangServe's handler records every callback event of the run (task by task) for a response
field it then leaves out, and encodes the response through FastAPI's `jsonable_encoder`:
together a sixth of a chain request's CPU (docs/benchmarks.md). Here the request is still
read and validated by LangServe (input schema, config keys, config hash), so errors read
the same, and the body is the one `RemoteRunnable` expects: `{"output", "metadata"}`.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response
from langchain_core.runnables import Runnable, RunnableConfig
from langserve import APIHandler
from langserve.serialization import WellKnownLCSerializer

_SERIALIZER = WellKnownLCSerializer()  # LangServe's own: messages and documents as it sends them


class LeanInvoke:
    def __init__(self, handler: APIHandler, runnable: Runnable[Any, Any]) -> None:
        self._handler = handler
        self._runnable = runnable

    async def __call__(
        self,
        request: Request,
        *,
        config_hash: str = "",
        server_config: RunnableConfig | None = None,
    ) -> Response:
        # LangServe's reading of the request (a private method; langserve is pinned to 0.3.3).
        config, input_ = await self._handler._get_config_and_input(
            request, config_hash, endpoint="invoke", server_config=server_config
        )
        output = await self._runnable.ainvoke(input_, config=config)
        metadata = {"run_id": str(config["run_id"]), "feedback_tokens": []}
        body = orjson.dumps({"output": orjson.Fragment(_SERIALIZER.dumps(output)),
                             "metadata": metadata})  # fmt: skip
        return Response(body, media_type="application/json")
