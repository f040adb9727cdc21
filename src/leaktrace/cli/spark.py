"""``leaktrace release-spark``: the release kernel on PySpark, for data beyond one machine.

A thin shell over :func:`leaktrace.spark.release_spark`. It starts (or joins) a
SparkSession on ``--master``; for a ``local[...]`` master the Python workers run this
very interpreter (unless ``PYSPARK_PYTHON`` says otherwise), so they import the same
leaktrace. On a cluster, configure ``spark.pyspark.python`` yourself (docs/spark.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from leaktrace.cli import app
from leaktrace.cli.common import (
    HomeOption,
    JsonOption,
    err_console,
    handle_errors,
    print_json,
    resolve_home,
)
from leaktrace.errors import ConfigError, InputError

__all__ = ["release_spark_cmd"]


@app.command("release-spark")
@handle_errors
def release_spark_cmd(
    input: Annotated[
        str, typer.Argument(help="Parquet file/folder or CSV with a header row, read by Spark.")
    ],
    to: Annotated[str, typer.Option("--to", help="Recipient name.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (must not exist).")],
    master: Annotated[
        str, typer.Option("--master", help="Spark master URL, e.g. local[4] or yarn.")
    ] = "local[2]",
    input_format: Annotated[
        Literal["parquet", "csv"] | None,
        typer.Option("--input-format", help="parquet|csv (default: from INPUT's suffix)."),
    ] = None,
    format: Annotated[
        Literal["parquet", "csv"], typer.Option("--format", help="Output part-file format.")
    ] = "parquet",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Release INPUT to one recipient on Spark: mask, mark, add canaries, record in the ledger."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("the Spark path needs: pip install 'leaktrace[spark]'") from None
    import os

    from leaktrace.spark import no_pandas_version_warning, release_spark
    from leaktrace.workspace import open_workspace

    # everything that can be checked before a JVM starts (that takes seconds)
    ws = open_workspace(resolve_home(home))
    ws.config.recipient(to)
    if out.exists():
        raise InputError(f"{out}: already exists; Spark output goes to a new folder")
    if not (out.parent or Path(".")).is_dir():
        raise InputError(f"the folder of --out {out} does not exist")
    fmt = input_format or ("csv" if input.lower().endswith((".csv", ".txt")) else "parquet")
    if "://" not in input and not Path(input).exists():
        raise InputError(f"{input}: file not found")
    existing = SparkSession.getActiveSession()
    if master.startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # read once by SparkContext: local workers run this interpreter (it has leaktrace)
        os.environ["PYSPARK_PYTHON"] = sys.executable
    with no_pandas_version_warning():
        spark = (
            SparkSession.builder.master(master)
            .appName("leaktrace release-spark")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
    if existing is None:
        spark.sparkContext.setLogLevel("ERROR")
    try:
        reader = spark.read
        sdf = reader.option("header", True).csv(input) if fmt == "csv" else reader.parquet(input)
        res = release_spark(sdf, recipient=to, workspace=ws, out=out, format=format)
    finally:
        if existing is None:  # only stop a session this command started
            spark.stop()
    if json_out:
        print_json({**res.summary(), "output": str(res.output)})
    else:
        err_console.print(
            f"released {res.rows:,} rows ({res.canaries:,} canaries) to {res.recipient} "
            f"→ {out} [{res.release_id}]",
            highlight=False,
            markup=False,
        )
