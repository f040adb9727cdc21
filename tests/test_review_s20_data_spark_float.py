"""The Spark path's text of a float column: a missing value stays missing (session 20, M2).

Spark writes a double NaN as ``NaN`` and an infinity as ``Infinity``; ``release-spark``
released them as phones. The file path gives null (``leaktrace.io.readers._text_expr``);
so must Spark. One test, at the level of the conversion: a Spark session takes ~20 s.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest

pytest.importorskip("pyspark", reason="the Spark path needs pyspark")

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        not (shutil.which("java") or "JAVA_HOME" in os.environ),
        reason="PySpark needs a Java runtime (java not found)",
    ),
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


def test_spark_text_of_nan_and_infinity_is_null_like_the_file_path() -> None:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DoubleType, StructField, StructType

    from leaktrace.spark import _spark_text

    saved = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("leaktrace-s20-float")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    if saved is None:
        del os.environ["PYSPARK_PYTHON"]
    else:
        os.environ["PYSPARK_PYTHON"] = saved
    try:
        spark.sparkContext.setLogLevel("ERROR")
        values = [13800138000.0, float("nan"), float("inf"), float("-inf"), None, 1.5]
        sdf = spark.createDataFrame(
            [(v,) for v in values], StructType([StructField("phone", DoubleType())])
        )
        schema_type = sdf.schema["phone"].dataType
        got = [r[0] for r in sdf.select(_spark_text(sdf["phone"], schema_type)).collect()]
    finally:
        spark.stop()
    assert got == ["13800138000", None, None, None, None, "1.5"]
