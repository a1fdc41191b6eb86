"""/summarize: one call for a short text; map-reduce over its parts for a long one.

Parts are condensed (`prompts/summarize_part.yaml`) until the text fits one call; the final
summary (`prompts/summarize.yaml`) is the step that streams.
"""

from typing import Any, Literal

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_text_splitters import RecursiveCharacterTextSplitter
from pydantic import BaseModel, Field

from chains.registry import ChainContext, MaxWords, UseCase


class SummarizeInput(BaseModel):
    text: str = Field(min_length=1, description="The text to summarize; any length.")
    style: Literal["paragraph", "bullets"] = Field("paragraph", description="Form of the summary.")
    max_words: MaxWords = Field(None, description="Ask for at most this many words.")


def build(context: ChainContext) -> Runnable[Any, str]:
    final = context.text_chain("summarize")
    condense = context.text_chain("summarize_part")
    chunk_chars = context.settings.summarize_chunk_chars
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_chars, chunk_overlap=chunk_chars // 20
    )

    async def shorten(inputs: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        """Map-reduce: summarize the parts of a long text until it fits in one request."""
        text = inputs["text"]
        while len(text) > chunk_chars:
            parts = splitter.split_text(text)
            condensed = await condense.abatch([{"text": part} for part in parts], config)
            shorter = "\n\n".join(condensed)
            if len(shorter) >= len(text):
                break  # the model no longer shortens it; summarize what we have
            text = shorter
        return {**inputs, "text": text}

    # The final summary streams on /stream and is one upstream call on /invoke.
    chain = RunnableLambda(shorten, name="shorten") | final
    return chain.with_types(input_type=SummarizeInput, output_type=str)


USE_CASE = UseCase(name="summarize", build=build)
