"""/assist: answers a question, calling the organisation's shared tools its tenant may use.

The model is offered the shared tools (all those the tenant's `allowed_tools` grant, or those
of them the request names) and calls them as it needs, for up to `ROUNDS` replies; then it
must answer. Each call goes through the platform's MCP gateway, in a ledger row of its own
(route `tools`). A tenant granted no tools gets a plain answer.
"""

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.utils import ConfigurableFieldSpec
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field

from app.use_cases import AsyncStep, ChainContext, SharedTools, UseCase

#: The model's replies that may call tools, before the one that must answer.
ROUNDS = 4


class AssistInput(BaseModel):
    question: str = Field(min_length=1, description="What to answer.")
    tools: list[str] | None = Field(
        None, max_length=50,
        description="The shared tools to offer it (server.tool); default: all the tenant may use.",
    )  # fmt: skip


class Assist(AsyncStep):
    name = "assist"

    def __init__(
        self, prompt: Runnable[dict[str, Any], Any], model: Runnable[Any, AIMessage],
        tools: SharedTools,
    ) -> None:  # fmt: skip
        self._prompt, self._model, self._tools = prompt, model, tools

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        """The model's (alias, temperature, max_tokens): clients choose them as elsewhere."""
        return self._model.config_specs

    async def ainvoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> str:
        return await self._acall_with_config(self._answer, input, config)

    async def _answer(self, inputs: dict[str, Any], config: RunnableConfig) -> str:
        tools = {tool.name: tool for tool in await self._tools.for_run(config, inputs["tools"])}
        offered = [convert_to_openai_tool(tool) for tool in tools.values()]
        work: list[BaseMessage] = []
        for _ in range(ROUNDS):
            reply = await self._reply(inputs, work, config, offered)
            if not reply.tool_calls:
                return reply.text
            work.append(reply)
            for call in reply.tool_calls:
                answer = await _called(tools.get(call["name"]), call["args"], config)
                work.append(ToolMessage(answer, tool_call_id=call["id"] or call["name"]))
        return (await self._reply(inputs, work, config, [])).text

    async def _reply(
        self, inputs: dict[str, Any], work: list[BaseMessage], config: RunnableConfig,
        offered: list[dict[str, Any]],
    ) -> AIMessage:  # fmt: skip
        prompt = await self._prompt.ainvoke({"question": inputs["question"], "work": work}, config)
        model = self._model.bind(tools=offered) if offered else self._model
        return await model.ainvoke(prompt, config)


async def _called(tool: BaseTool | None, arguments: dict[str, Any], config: RunnableConfig) -> str:
    if tool is None:
        return "Error: no such tool was offered."
    return str(await tool.ainvoke(arguments, config))


def build(context: ChainContext) -> Runnable[Any, str]:
    prompt, model = context.prompt_and_model("assist")
    assist = Assist(prompt, model, context.tools)
    return assist.with_types(input_type=AssistInput, output_type=str)


USE_CASE = UseCase(name="assist", build=build)
