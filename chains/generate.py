"""/generate: free text generation from a prompt."""

from pydantic import BaseModel, Field

from chains.registry import UseCase


class GenerateInput(BaseModel):
    prompt: str = Field(min_length=1, description="What to write about or answer.")
    system: str | None = Field(None, description="System message; a helpful assistant if unset.")
    max_words: int | None = Field(
        None, ge=1, le=5000, description="Ask for at most this many words."
    )


USE_CASE = UseCase(
    name="generate",
    build=lambda context: context.text_chain("generate").with_types(
        input_type=GenerateInput, output_type=str
    ),
)
