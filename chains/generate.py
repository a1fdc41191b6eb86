"""/generate: free text generation from a prompt."""

from pydantic import BaseModel, Field

from app.use_cases import MaxWords, UseCase, optional


class GenerateInput(BaseModel):
    prompt: str = Field(min_length=1, description="What to write about or answer.")
    system: optional(str) = Field(None, description="System message; a helpful assistant if unset.")
    max_words: MaxWords = Field(None, description="Ask for at most this many words.")


USE_CASE = UseCase(
    name="generate",
    build=lambda context: context.text_chain("generate").with_types(
        input_type=GenerateInput, output_type=str
    ),
)
