"""Loading of the shipped tables under ``synth/data/`` (cached: each is read once per process)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import polars as pl

__all__ = ["load_json", "load_phone_runs"]


@cache
def load_json(name: str) -> Any:
    text = resources.files("leaktrace.synth").joinpath("data", name).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def load_phone_runs() -> pl.DataFrame:
    """``start,length,city`` runs of 7-digit mobile prefixes (see ``build_tables``)."""
    path = resources.files("leaktrace.synth").joinpath("data", "phone_prefixes.csv")
    with resources.as_file(path) as p:
        return pl.read_csv(p, schema={"start": pl.Int64, "length": pl.Int64, "city": pl.Utf8})
