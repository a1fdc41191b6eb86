"""Dollar cost of tokens, from the per-alias prices in the settings (0 unless configured)."""

from __future__ import annotations

from collections.abc import Mapping

from app.settings import ModelSpec


class PriceTable:
    def __init__(self, models: Mapping[str, ModelSpec]) -> None:
        self._prices = {
            alias: (spec.input_price_per_million, spec.output_price_per_million)
            for alias, spec in models.items()
        }

    def upper_bound(self, alias: str | None, tokens: int) -> float:
        """The most `tokens` can cost, whether they turn out input or output."""
        return tokens * max(self._prices.get(alias or "", (0.0, 0.0))) / 1_000_000

    def cost(self, alias: str | None, input_tokens: int, output_tokens: int) -> float:
        input_price, output_price = self._prices.get(alias or "", (0.0, 0.0))
        return (input_tokens * input_price + output_tokens * output_price) / 1_000_000
