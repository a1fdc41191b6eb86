"""/v1/images/generations and /v1/images/edits in OpenAI's protocol: the requests we accept,
the body we send."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    field_validator,
)

from app.providers import Upload

#: What OpenAI makes when a request names no size or quality (DALL·E 2 and 3).
DEFAULT_SIZE = "1024x1024"
DEFAULT_QUALITY = "standard"
_ITEM_KEYS = ("url", "b64_json", "revised_prompt")
_PASSED_ON = ("background", "output_format", "quality", "size", "usage")


#: A file of the form, documented as OpenAPI's binary string.
File = Annotated[Upload, WithJsonSchema({"type": "string", "format": "binary"})]
Size = Annotated[str, Field(pattern=r"^(auto|[0-9]{2,5}x[0-9]{2,5})$")]
Quality = Literal["standard", "hd", "low", "medium", "high", "auto"]
#: The formats providers edit, by the bytes a file starts with.
_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"RIFF": "WebP"}


class _ImageRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1, max_length=64)
    prompt: StrictStr = Field(min_length=1, max_length=32000)
    size: Size | None = Field(None, description="e.g. 1024x1024.")
    quality: Quality | None = None
    response_format: Literal["url", "b64_json"] | None = None
    user: StrictStr | None = Field(None, max_length=256)

    @property
    def priced_as(self) -> tuple[str, str]:
        """The size and quality the images are priced by."""
        return self.size or DEFAULT_SIZE, self.quality or DEFAULT_QUALITY


class ImageGenerationRequest(_ImageRequest):
    """Images from a text; unknown parameters are passed on to the provider."""

    n: StrictInt = Field(1, ge=1, le=10)
    style: Literal["vivid", "natural"] | None = None


class ImageEditRequest(_ImageRequest):
    """Images edited from one or more images (and a mask), as a multipart form: its numbers
    arrive as text; unknown fields are passed on to the provider as they came."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    image: list[File] = Field(min_length=1, max_length=16)
    mask: list[File] | None = Field(None, max_length=1)
    n: int = Field(1, ge=1, le=10)

    @field_validator("image", "mask")
    @classmethod
    def _images(cls, uploads: list[Upload] | None) -> list[Upload] | None:
        for upload in uploads or ():
            if not any(upload.data.startswith(magic) for magic in _IMAGE_MAGIC):
                raise ValueError(
                    f"'{upload.filename}' is not an image (send {', '.join(_IMAGE_MAGIC.values())})"
                )
        return uploads

    def payload(self) -> dict[str, Any]:
        """The form sent on, its files as they came: the mask one file, not a list."""
        payload = self.model_dump(exclude_none=True, exclude={"image", "mask"})
        payload["image"] = self.image
        if self.mask:
            payload["mask"] = self.mask[0]
        return payload


def image_list(upstream: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's images body: the provider's images, and what it says of them."""
    data = [{key: item[key] for key in _ITEM_KEYS if key in item} for item in upstream["data"]]
    passed = {key: upstream[key] for key in _PASSED_ON if key in upstream}
    return {"created": upstream.get("created") or int(time.time()), "data": data, **passed}
