"""Dollar cost of tokens and images, from the per-alias prices in the settings (0 unless
configured)."""

from __future__ import annotations

from collections.abc import Mapping

from app.errors import BadRequest
from app.settings import ModelSpec


class PriceTable:
    """Prices by alias; a batch's line (`batch`) pays the alias's `batch_price_factor` of
    them, an answer from the cache its `cache.price_factor`."""

    def __init__(self, models: Mapping[str, ModelSpec]) -> None:
        self._prices = {
            alias: (spec.input_price_per_million, spec.output_price_per_million)
            for alias, spec in models.items()
        }
        self._batch_factors = {alias: spec.batch_price_factor for alias, spec in models.items()}
        self._cache_factors = {alias: spec.cache.price_factor for alias, spec in models.items()}
        self._image_prices = {alias: spec.image_prices for alias, spec in models.items()}
        #: The moderation alias each moderated alias asks first (its call is billed too).
        self._moderators = {alias: spec.moderation.model for alias, spec in models.items()
                            if spec.moderation}  # fmt: skip

    def upper_bound(self, alias: str | None, tokens: int, batch: bool = False) -> float:
        """The most `tokens` can cost, whether they turn out input or output, with the
        alias's moderation call if it has one (its input is the prompt: within `tokens`)."""
        bound = self._most(alias or "", tokens, batch)
        moderator = self._moderators.get(alias or "")
        return bound + self._most(moderator, tokens, batch) if moderator else bound

    def _most(self, alias: str, tokens: int, batch: bool) -> float:
        price = max(self._prices.get(alias, (0.0, 0.0)))
        factor = self._batch_factors.get(alias, 1.0) if batch else 1.0
        return tokens * price * factor / 1_000_000

    def cost(
        self, alias: str | None, input_tokens: int, output_tokens: int, batch: bool = False,
        cached: bool = False,
    ) -> float:  # fmt: skip
        """What the tokens cost; an answer from the cache (`cached`) pays the alias's
        `cache.price_factor` of it."""
        input_price, output_price = self._prices.get(alias or "", (0.0, 0.0))
        factor = self._batch_factors.get(alias or "", 1.0) if batch else 1.0
        if cached:
            factor *= self._cache_factors.get(alias or "", 0.0)
        return (input_tokens * input_price + output_tokens * output_price) * factor / 1_000_000

    def image_price(self, alias: str, size: str, quality: str) -> float:
        """USD per image of `size` and `quality`: listed as `SIZE/QUALITY`, `SIZE` or `*`;
        a 400 naming the size if the alias prices images but not these."""
        prices = self._image_prices.get(alias) or {}
        if not prices:
            return 0.0
        for key in (f"{size}/{quality}", size, "*"):
            if key in prices:
                return prices[key]
        size_priced = any(key.startswith(f"{size}/") for key in prices)
        raise BadRequest(
            f"Model '{alias}' makes no {size} images of quality '{quality}'; it prices: "
            f"{', '.join(sorted(prices))}.",
            param="quality" if size_priced else "size",  # the one to change
            code="image_size_not_priced",
        )
