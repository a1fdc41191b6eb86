"""Platform settings over the fault upstream instead of the embedded model (fast to start)."""

from __future__ import annotations

from pathlib import Path

import yaml

from app.settings import ModelSpec


def upstream_config(folder: Path, upstream_url: str) -> Path:
    """A config file: alias "fast" answers at once, "paced" takes 2 s, "slow" ticks until it
    is stopped, "priced" costs money."""
    models = {
        alias: {"provider": "openai-compatible", "base_url": upstream_url, "model": model, **price}
        for alias, model, price in (
            ("fast", "ok", {}),
            ("paced", "paced", {}),
            ("slow", "slow", {}),
            (
                "priced",
                "ok",
                {"input_price_per_million": 1000.0, "output_price_per_million": 2000.0},
            ),
        )
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump({"models": models, "default_model": "fast"}))
    return path


def fault_aliases(upstream_url: str, *models: str, **tried_in_turn: list[str]) -> dict:
    """Model aliases over the fault upstream, without retries: each of `models` an alias of
    its own name; each of `tried_in_turn` an alias whose deployments are those models."""

    def deployment(model: str) -> dict:
        return {"provider": "openai-compatible", "model": model, "base_url": upstream_url,
                "max_retries": 0}  # fmt: skip

    aliases = {model: ModelSpec(deployments=[deployment(model)]) for model in models}
    for alias, turns in tried_in_turn.items():
        aliases[alias] = ModelSpec(deployments=[deployment(model) for model in turns])
    return aliases
