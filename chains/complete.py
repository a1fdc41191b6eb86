"""/complete: continues a text."""

from pydantic import BaseModel, Field

from app.use_cases import UseCase


class CompleteInput(BaseModel):
    text: str = Field(min_length=1, description="The text to continue.")


USE_CASE = UseCase(
    name="complete",
    build=lambda context: context.text_chain("complete").with_types(
        input_type=CompleteInput, output_type=str
    ),
)
