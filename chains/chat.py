"""/chat: a conversation, stateless or kept by the server under a session id.

With `config.configurable.session_id` the server loads the session's history, the client
sends only its new messages, and the turn (new messages + reply) is stored when the reply ends
— complete, or cut short by a disconnect or an error and then marked interrupted. A request
that failed before the model said anything (refused, say) leaves the history as it was.
"""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    convert_to_messages,
    convert_to_openai_messages,
    trim_messages,
)
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, RunnableLambda
from langchain_core.runnables.utils import ConfigurableFieldSpec, get_unique_config_specs
from pydantic import BaseModel, BeforeValidator, Field

from app.use_cases import (
    INTERRUPTED,
    SESSION_ID_PATTERN,
    ChainContext,
    UseCase,
    keeper,
    optional,
    tenant_of,
)

SESSION_ID_SPEC = ConfigurableFieldSpec(
    id="session_id",
    name="Session id",
    description="Keep the conversation on the server under this id (letters, digits, _.:-).",
    annotation=optional(Annotated[str, Field(pattern=SESSION_ID_PATTERN)]),
    default=None,
)


def _message(value: Any) -> Any:
    """A message as LangChain clients send it: `{"type", "content"}` (LangChain's own shape),
    `{"role", "content"}` (OpenAI's) or a `[role, content]` pair (RemoteRunnable's tuples).
    LangChain's message classes raise more than validation errors on odd fields (a TypeError
    on a tool call's unknown key, say), and accept content no model can be sent: every failure
    here is the client's, a 422 at the item, as is anything else in its place (`null`, a
    number: LangChain's own message union raises a TypeError on them)."""
    if isinstance(value, BaseMessage):
        return value
    try:
        if not isinstance(value, list | tuple | dict):
            raise TypeError(f"got {type(value).__name__}")
        message = convert_to_messages([value])[0]
        convert_to_openai_messages([message])  # a message no model could be sent: refused
        return message
    except Exception as exc:
        raise ValueError(
            'a message is {"type": ..., "content": ...}, {"role": ..., "content": ...} '
            f"or a [role, content] pair, with role human, ai or system ({exc})"
        ) from None


class ChatInput(BaseModel):
    messages: list[Annotated[AnyMessage, BeforeValidator(_message)]] = Field(
        min_length=1,
        description="New messages; the whole conversation unless a session_id is given.",
        json_schema_extra={"widget": {"type": "chat", "input": "messages"}},
    )


class SessionChat(RunnableBinding[dict[str, Any], str]):
    """The chat runnable, declaring `session_id` so LangServe lets clients set it."""

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return get_unique_config_specs([*super().config_specs, SESSION_ID_SPEC])


def build(context: ChainContext) -> Runnable[Any, str]:
    answer = context.text_chain("chat")
    store = context.history
    history_tokens = context.settings.chat_history_tokens

    async def converse(inputs: dict[str, Any], config: RunnableConfig) -> AsyncIterator[str]:
        configurable = config.get("configurable", {})
        session_id = configurable.get("session_id")
        tenant_id = tenant_of(config)
        keep = keeper(config)  # as its tenant's guardrail policy says
        new_messages = convert_to_messages(inputs["messages"])
        history = await store.aload(tenant_id, session_id) if session_id else []
        history = trim_messages(
            history,
            max_tokens=history_tokens,
            token_counter=count_tokens_approximately,
            strategy="last",
            start_on="human",
        )
        reply: list[str] = []
        finished = False
        try:
            prompt_inputs = {"history": history, "messages": new_messages}
            async for text in answer.astream(prompt_inputs, config):
                reply.append(text)
                yield text
            finished = True
        finally:
            if session_id and (finished or reply):
                stored = AIMessage(content="".join(reply))
                if not finished:
                    stored.response_metadata[INTERRUPTED] = True
                *asked, said = keep([*new_messages, stored])
                await store.aappend_turn(tenant_id, session_id, asked, said)

    # The reply is text: the chat playground renders only text or AIMessage outputs, and the
    # AIMessage schema of current pydantic is not one it recognises.
    runnable = RunnableLambda(converse, name="chat").with_types(
        input_type=ChatInput, output_type=str
    )
    return SessionChat(bound=runnable)


USE_CASE = UseCase(name="chat", build=build, playground_type="chat")
