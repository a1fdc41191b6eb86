"""/summarize: one call for a short text; map-reduce over its parts for a long one.

Parts are condensed (`prompts/summarize_part.yaml`) until the text fits one call; the final
summary (`prompts/summarize.yaml`) is the step that streams. As each part is condensed, a
LangChain custom event `progress` says so (`{"round", "part", "of"}`): `/stream_events` relays
it, so RemoteRunnable clients and the console show "part 3 of 12".
"""

from contextlib import aclosing
from typing import Any, Literal

from langchain_core.callbacks import adispatch_custom_event
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_text_splitters import RecursiveCharacterTextSplitter
from pydantic import BaseModel, Field

from app.use_cases import AsyncStep, ChainContext, MaxWords, UseCase, as_completed


class SummarizeInput(BaseModel):
    text: str = Field(min_length=1, description="The text to summarize; any length.")
    style: Literal["paragraph", "bullets"] = Field("paragraph", description="Form of the summary.")
    max_words: MaxWords = Field(None, description="Ask for at most this many words.")


#: The custom event each condensed part sends.
PROGRESS = "progress"


class Shorten(AsyncStep):
    """Map-reduce: condenses a long text's parts until the text fits in one request.

    A text that already fits passes straight through without a run of its own: nothing
    happened worth tracing, and a LangChain step costs more than the summary's own bookkeeping.
    """

    name = "shorten"

    def __init__(self, condense: Runnable[dict[str, Any], str], chunk_chars: int) -> None:
        self._condense = condense
        self._chunk_chars = chunk_chars
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_chars, chunk_overlap=chunk_chars // 20
        )

    async def ainvoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        if len(input["text"]) <= self._chunk_chars:
            return input
        return await self._acall_with_config(self._shorten, input, config)

    async def _shorten(self, inputs: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        text, round_ = inputs["text"], 0
        while len(text) > self._chunk_chars:
            round_ += 1
            parts = self._splitter.split_text(text)
            condensed: list[str] = [""] * len(parts)
            done = 0
            batch = [{"text": part} for part in parts]
            async with aclosing(as_completed(self._condense, batch, config)) as summaries:
                async for index, summary in summaries:
                    condensed[index], done = summary, done + 1
                    progress = {"round": round_, "part": done, "of": len(parts)}
                    await adispatch_custom_event(PROGRESS, progress, config=config)
            shorter = "\n\n".join(condensed)
            if len(shorter) >= len(text):
                break  # the model no longer shortens it; summarize what we have
            text = shorter
        return {**inputs, "text": text}


def build(context: ChainContext) -> Runnable[Any, str]:
    shorten = Shorten(context.text_chain("summarize_part"), context.settings.summarize_chunk_chars)
    # The final summary streams on /stream and is one upstream call on /invoke.
    chain = context.text_chain("summarize", before=shorten)
    return chain.with_types(input_type=SummarizeInput, output_type=str)


USE_CASE = UseCase(name="summarize", build=build, document_field="text")
