"""The Spark path: the release kernel under real PySpark (local mode) ``mapInArrow``.

One SparkSession for the module (starting the JVM dominates the run time). What must hold:
real rows come out exactly as the single-machine release writes them (marks depend only on
key, recipient and order), the ledger verifies, the output traces to its recipient, and a
failure in one partition leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from leaktrace.errors import ConfigError, InputError, KeyFileError
from leaktrace.ledger import Ledger
from leaktrace.release import ReleaseResult, make_plan, release
from leaktrace.synth import generate_orders
from leaktrace.workspace import Workspace, add_recipient, init_workspace

pyspark = pytest.importorskip("pyspark", reason="the Spark path needs pyspark")


def _java_ok() -> bool:
    java = shutil.which("java") or (
        os.path.join(os.environ["JAVA_HOME"], "bin", "java") if "JAVA_HOME" in os.environ else None
    )
    if not java:
        return False
    try:
        return subprocess.run([java, "-version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(not _java_ok(), reason="PySpark needs a Java runtime (java not found)"),
    # PySpark's own Arrow helpers warn that pandas 3 is not yet supported; we use no pandas.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

ORDERS = 5000


def make_workspace(home: Path) -> Workspace:
    ws = init_workspace(home)
    add_recipient(ws, "zto", template="courier", where="courier = '中通快递'")
    add_recipient(ws, "cs-firm", template="customer-service")
    add_recipient(ws, "sms", template="sms-vendor")
    return ws


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    # Python workers must run this interpreter (it has leaktrace); SparkContext reads
    # PYSPARK_PYTHON once, at creation, so set it only for that moment.
    saved = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("leaktrace-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.sql.session.timeZone", "Asia/Shanghai")
        .getOrCreate()
    )
    if saved is None:
        del os.environ["PYSPARK_PYTHON"]
    else:
        os.environ["PYSPARK_PYTHON"] = saved
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def orders_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("spark-in") / "orders.parquet"
    generate_orders(ORDERS, seed=23).write_parquet(p)
    return p


@pytest.fixture(scope="module")
def released(
    spark: object, orders_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Workspace, ReleaseResult, ReleaseResult, Path]:
    """zto (where-filter, aliases, kept phones) released by Spark on 3 partitions and by
    the single-machine path, into the same workspace."""
    from leaktrace.spark import release_spark

    root = tmp_path_factory.mktemp("spark-rel")
    ws = make_workspace(root / "ws")
    single = release(orders_file, recipient="zto", workspace=ws, out=root / "single.parquet")
    sdf = spark.read.parquet(str(orders_file)).repartition(3)  # type: ignore[attr-defined]
    res = release_spark(sdf, recipient="zto", workspace=ws, out=root / "zto")
    return ws, single, res, root


def _read_dir(folder: Path) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(p) for p in sorted(folder.glob("part-*.parquet"))])


def test_real_rows_identical_to_single_machine_release(
    released: tuple[Workspace, ReleaseResult, ReleaseResult, Path],
) -> None:
    _ws, single, res, root = released
    a = _read_dir(root / "zto")
    b = pl.read_parquet(root / "single.parquet")
    assert a.columns == b.columns and a.schema == b.schema
    assert a.height == res.rows
    real = res.rows - res.canaries
    assert real == single.rows - single.canaries
    # order_id is the recipient's alias of the real number: same key, same alias
    joined = a.join(b, on="order_id", how="inner", suffix="_single")
    assert joined.height == real  # every real row matched, canaries matched nothing
    for c in b.columns:
        if c != "order_id":
            assert joined.get_column(c).equals(joined.get_column(f"{c}_single")), c
    assert res.entry.output_format == "parquet-dir"
    # one input file: the same digest release() records for that file
    assert res.entry.input_sha256 == single.entry.input_sha256


def test_ledger_verifies_and_canaries_follow_policy(
    released: tuple[Workspace, ReleaseResult, ReleaseResult, Path],
) -> None:
    ws, single, res, root = released
    assert Ledger(ws).verify().ok
    entries = Ledger(ws).entries()
    assert [e.release_id for e in entries] == [single.release_id, res.release_id]
    policy = make_plan(ws, "zto").policy
    real = res.rows - res.canaries
    assert policy.canary_min <= res.canaries <= int(policy.canary_rate * real) + policy.canary_min
    tokens = [t for t in Ledger(ws).canary_tokens() if t["release_id"] == res.release_id]
    contacts = [t["contact"] for t in tokens]
    assert len(tokens) == res.canaries and len(set(contacts)) == len(contacts)
    earlier = {
        t["contact"] for t in Ledger(ws).canary_tokens() if t["release_id"] != res.release_id
    }
    assert not earlier & set(contacts)
    assert not list((ws.index_dir).glob(".tmp-*"))
    assert not list(root.glob(".zto.tmp-*"))


def test_trace_of_a_sample_names_the_recipient(
    released: tuple[Workspace, ReleaseResult, ReleaseResult, Path],
) -> None:
    from leaktrace.trace import trace

    ws, _single, _res, root = released
    sample = _read_dir(root / "zto").sample(10, seed=5)
    result = trace(sample, workspace=ws)
    assert [c.recipient for c in result.accused] == ["zto"]


def test_many_partitions_csv_rate_and_directory_digest(
    spark: object, orders_file: Path, tmp_path: Path
) -> None:
    from leaktrace.spark import directory_sha256, release_spark

    ws = make_workspace(tmp_path / "ws")
    sdf = spark.read.parquet(str(orders_file)).repartition(4)  # type: ignore[attr-defined]
    res = release_spark(sdf, recipient="cs-firm", workspace=ws, out=tmp_path / "cs", format="csv")
    policy = make_plan(ws, "cs-firm").policy
    assert res.rows - res.canaries == ORDERS
    # the partitions' floors (< 1 each) are topped up by the driver: the release has what
    # one machine would add, rate x rows, and partition 0 at least the minimum
    expected = int(policy.canary_rate * ORDERS)
    assert expected <= res.canaries <= expected + policy.canary_min
    parts = sorted((tmp_path / "cs").glob("part-*.csv"))
    out = pl.concat([pl.read_csv(p, infer_schema=False) for p in parts])
    # leaktrace's own reader takes every part (RFC 4180 quotes, spaces kept), and a sample
    # of one traces to the recipient
    from leaktrace.io import read_table
    from leaktrace.trace import trace

    mine = pl.concat([read_table(p) for p in parts], how="diagonal_relaxed")
    assert mine.height == res.rows
    leak = tmp_path / "leak.csv"
    read_table(parts[0]).head(20).write_csv(leak)
    assert [c.recipient for c in trace(leak, workspace=ws).accused] == ["cs-firm"]
    assert out.height == res.rows
    assert out.get_column("phone").str.contains(r"^1\d\d\*{4}\d{4}$").all()
    assert out.get_column("order_time").str.contains(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$").all()
    assert res.entry.output_format == "csv-dir"
    assert res.output_sha256 == directory_sha256(tmp_path / "cs")
    assert Ledger(ws).verify().ok


@pytest.mark.parametrize("format", ["parquet", "csv"])
def test_canary_min_when_partition_0_has_none_of_the_recipients_rows(
    spark: object, orders_file: Path, tmp_path: Path, format: str
) -> None:
    """Data partitioned by courier: a small courier's rows (22 of 5,000, too few for one
    canary at 1 %) are all outside partition 0, the one that enforces canary_min. The
    driver tops the release up; it used to carry no canary at all."""
    from pyspark.sql import functions as F

    from leaktrace.spark import directory_sha256, release_spark
    from leaktrace.trace import trace

    ws = make_workspace(tmp_path / "ws")
    add_recipient(ws, "fw", template="courier", where="courier = '丰网速运'")
    sdf = spark.read.parquet(str(orders_file))  # type: ignore[attr-defined]
    # partition 0 holds every other courier; 丰网速运 is alone in partition 1
    sdf = sdf.repartitionByRange(2, F.when(F.col("courier") == "丰网速运", 1).otherwise(0))
    parts = sdf.rdd.glom().map(lambda rows: {r["courier"] for r in rows}).collect()
    assert "丰网速运" not in parts[0] and parts[1] == {"丰网速运"}
    out = tmp_path / "fw"
    res = release_spark(sdf, recipient="fw", workspace=ws, out=out, format=format)
    assert res.canaries == make_plan(ws, "fw").policy.canary_min and res.rows == 22 + 3
    files = sorted(out.glob(f"part-*.{format}"))
    if format == "csv":
        rows = pl.concat([pl.read_csv(f, infer_schema=False) for f in files])
    else:
        rows = pl.concat([pl.read_parquet(f) for f in files])
    assert rows.height == res.rows
    assert res.output_sha256 == directory_sha256(out)
    assert Ledger(ws).verify().ok
    contacts = {t["contact"] for t in Ledger(ws).canary_tokens()}
    assert len(contacts) == res.canaries and contacts <= set(rows.get_column("phone").to_list())
    assert [c.recipient for c in trace(rows, workspace=ws).accused] == ["fw"]


@pytest.mark.parametrize("format", ["parquet", "csv"])
def test_top_up_canaries_are_spliced_into_sparks_part_files(
    spark: object, orders_file: Path, tmp_path: Path, format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver's top-up canaries used to go out as ``part-top-up-c000.*``: every row a
    canary, a name not Spark's, Parquet written by pyarrow — delete that one file and they
    were gone. Now they sit among the real rows of Spark's own part files, in time order
    where the part is sorted, each part keeping its writer and a valid Hadoop checksum."""
    from pyspark.sql import functions as F

    from leaktrace import spark_splice
    from leaktrace.spark import release_spark
    from leaktrace.spark_splice import hadoop_crc

    ws = make_workspace(tmp_path / "ws")
    add_recipient(ws, "fw", template="courier", where="courier = '丰网速运'")
    sdf = spark.read.parquet(str(orders_file))  # type: ignore[attr-defined]
    sdf = sdf.repartitionByRange(
        2, F.when(F.col("courier") == "丰网速运", 1).otherwise(0)
    ).sortWithinPartitions("order_time")
    out = tmp_path / "fw"
    seen: dict[str, int] = {}
    real_splice = spark_splice._replace

    def replace(part: Path, new: object, scratch: Path) -> None:
        seen[part.name] = part.stat().st_mtime_ns
        real_splice(part, new, scratch)  # type: ignore[arg-type]

    monkeypatch.setattr(spark_splice, "_replace", replace)
    res = release_spark(sdf, recipient="fw", workspace=ws, out=out, format=format)
    assert res.canaries == make_plan(ws, "fw").policy.canary_min  # all of them topped up
    # the rewritten part keeps the time Spark gave it
    assert seen and all((out / name).stat().st_mtime_ns == t for name, t in seen.items())
    data = sorted(p for p in out.iterdir() if not p.name.startswith((".", "_")))
    names = {re.sub(r"^part-\d{5}-", "", p.name) for p in data}
    assert len(names) == 1 and all(
        re.match(r"part-\d{5}-[0-9a-f-]{36}-c000\.", p.name) for p in data
    )
    contacts = {t["contact"] for t in Ledger(ws).canary_tokens()}
    spliced: list[str] = []
    canary_days: list[date | None] = []
    for p in data:
        assert (out / f".{p.name}.crc").read_bytes() == hadoop_crc(p.read_bytes()), p.name
        if format == "csv":
            rows = pl.read_csv(p, infer_schema=False).with_columns(
                pl.col("order_time").str.to_datetime("%Y-%m-%d %H:%M:%S")
            )
        else:
            rows = pl.read_parquet(p)
            assert pq.ParquetFile(p).metadata.created_by.startswith("parquet-mr"), p.name
        is_canary = rows.get_column("phone").is_in(list(contacts))
        canary_days += rows.filter(is_canary).get_column("order_time").dt.date().to_list()
        if is_canary.any():
            spliced.append(p.name)
            # among the real rows, not at the end, and the part still sorted by minute
            assert not is_canary.tail(int(is_canary.sum())).all()
            minutes = rows.get_column("order_time").dt.truncate("1m")
            assert minutes.equals(minutes.sort()), p.name
    assert spliced
    # Spark reads the folder back (it checks every part against its .crc)
    back = spark.read  # type: ignore[attr-defined]
    reader = back.option("header", True).csv if format == "csv" else back.parquet
    assert reader(str(out)).count() == res.rows
    assert Ledger(ws).verify().ok
    # the index's day of each canary is the day it went out with
    (entry,) = Ledger(ws).entries()
    index = pl.read_parquet(ws.home / entry.index_file).filter(pl.col("is_canary"))
    days = sorted(d for d in canary_days if d is not None)
    assert sorted(index.get_column("order_day").to_list()) == days and len(days) == res.canaries


@pytest.mark.parametrize("format", ["parquet", "csv"])
def test_top_up_canaries_look_like_their_own_partitions_rows(
    spark: object, orders_file: Path, tmp_path: Path, format: str
) -> None:
    """Session 23's review: the driver drew its top-up canaries from the first rows of the
    whole input and only fitted their minute, so in data partitioned by province a canary
    was the one row of its file from another province; without the timestamp channel it
    broke a file sorted to the second; and under maxRecordsPerFile a Parquet release
    failed while a CSV file held more records than Spark ever writes. Now each partition
    sets spares aside from its own rows, and the driver splices them into its files."""
    from pyspark.sql import functions as F

    from leaktrace.spark import release_spark

    ws = make_workspace(tmp_path / "ws")
    policy = ws.config.policies["courier"]
    policy.canary_min, policy.canary_rate = 12, 0.001  # most canaries come from the top-up
    policy.channels = ["address", "title"]  # real seconds: the files are sorted to the second
    ws.save()
    sdf = spark.read.parquet(str(orders_file))  # type: ignore[attr-defined]
    # partition 0: the other couriers' rows (so canary_min is all top-up); zto's by province
    province = F.when(F.col("courier") == "中通快递", F.substring(F.col("address"), 1, 2))
    sdf = sdf.repartitionByRange(4, province.otherwise(F.lit(""))).sortWithinPartitions(
        "order_time"
    )
    couriers = sdf.rdd.glom().map(lambda rows: {r["courier"] for r in rows}).collect()
    assert "中通快递" not in couriers[0] and all("中通快递" in c for c in couriers[1:])
    conf = spark.conf  # type: ignore[attr-defined]
    conf.set("spark.sql.files.maxRecordsPerFile", "100")
    try:
        res = release_spark(sdf, recipient="zto", workspace=ws, out=tmp_path / "zto", format=format)
    finally:
        conf.unset("spark.sql.files.maxRecordsPerFile")
    assert res.canaries == 12 and Ledger(ws).verify().ok
    contacts = {t["contact"] for t in Ledger(ws).canary_tokens()}
    files = sorted((tmp_path / "zto").glob(f"part-*.{format}"))
    assert len(files) > 4  # the cap cut the partitions into several files
    found = 0
    real: dict[str, set[str]] = {}
    fake: dict[str, set[str]] = {}
    for f in files:
        if format == "csv":
            rows = pl.read_csv(f, infer_schema=False).with_columns(
                pl.col("order_time").str.to_datetime("%Y-%m-%d %H:%M:%S")
            )
        else:
            rows = pl.read_parquet(f)
        assert rows.height <= 100, f.name
        times = rows.get_column("order_time")
        assert times.equals(times.sort(nulls_last=False)), f.name
        is_canary = rows.get_column("phone").is_in(list(contacts))
        found += int(is_canary.sum())
        part = f.name[:10]  # part-0000N: the partition's provinces, real rows and canaries
        provinces = rows.get_column("address").str.slice(0, 2)
        real[part] = real.get(part, set()) | set(provinces.filter(~is_canary).to_list())
        fake[part] = fake.get(part, set()) | set(provinces.filter(is_canary).to_list())
    assert found == res.canaries
    for part, theirs in fake.items():
        assert theirs <= real[part], (part, theirs - real[part])


def test_spares_from_short_pool_slices_still_cover_canary_min(
    spark: object, orders_file: Path, tmp_path: Path
) -> None:
    """Session 23's second review: a partition whose pool slice held fewer numbers than
    ``canary_min + 2`` drew no spare at all (the draw is all or nothing), so a release
    with partition 0 empty went out with 3 canaries where its minimum was 20, silently.
    A partition now sets aside what its slice holds."""
    from pyspark.sql import functions as F

    from leaktrace.spark import release_spark

    ws = init_workspace(tmp_path / "ws", canary_phones=["17090000000-17090000059"])
    add_recipient(ws, "zto", template="courier", where="courier = '中通快递'")
    policy = ws.config.policies["courier"]
    policy.canary_min, policy.canary_rate = 20, 0.001
    ws.save()
    sdf = spark.read.parquet(str(orders_file))  # type: ignore[attr-defined]
    # 5 partitions (12 pool numbers each): zto's rows in 1, 2 and 3, none in partition 0
    zto = F.col("courier") == "中通快递"
    key = F.when(zto, 1 + F.pmod(F.hash("order_id"), F.lit(3))).otherwise(0)
    sdf = sdf.repartitionByRange(5, F.when(key == 0, F.lit(0)).otherwise(key * 2))
    parts = sdf.rdd.glom().map(lambda rows: any(r["courier"] == "中通快递" for r in rows)).collect()
    assert len(parts) == 5 and not parts[0] and sum(parts) == 3
    res = release_spark(sdf, recipient="zto", workspace=ws, out=tmp_path / "zto")
    assert res.canaries == 20 and Ledger(ws).verify().ok
    contacts = [t["contact"] for t in Ledger(ws).canary_tokens()]
    assert len(contacts) == len(set(contacts)) == 20


def test_the_output_folder_appears_only_after_its_record(
    spark: object, orders_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder published before its record could be picked up carrying canary numbers
    that a concurrent release then recorded as its own (Spark audit); as on one machine,
    the record comes first."""
    from leaktrace.spark import release_spark

    ws = make_workspace(tmp_path / "ws")
    out = tmp_path / "cs"
    seen: list[bool] = []
    real = Ledger.append

    def append(self: Ledger, *a: object, **k: object) -> object:
        seen.append(out.exists())
        return real(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(Ledger, "append", append)
    sdf = spark.read.parquet(str(orders_file)).repartition(2)  # type: ignore[attr-defined]
    res = release_spark(sdf, recipient="cs-firm", workspace=ws, out=out)
    assert seen == [False] and out.is_dir() and res.rows > 0


def test_output_files_and_index_are_synced_before_the_record(
    spark: object, orders_file: Path, tmp_path: Path, synced_at_append: list[list[str]]
) -> None:
    """As on one machine: every part file Spark wrote and the merged index are fsynced
    before the ledger record that names them is appended."""
    from leaktrace.spark import release_spark

    ws = make_workspace(tmp_path / "ws")
    sdf = spark.read.parquet(str(orders_file)).repartition(3)  # type: ignore[attr-defined]
    res = release_spark(sdf, recipient="cs-firm", workspace=ws, out=tmp_path / "cs")
    (before,) = synced_at_append
    parts = sorted((tmp_path / "cs").glob("part-*.parquet"))
    assert len(parts) == 3  # 3 partitions; the driver's top-up goes into them
    # synced under the temporary name they had before the rename into place
    assert sum(Path(p).name in {q.name for q in parts} for p in before) == len(parts)
    assert any(p.startswith(str(ws.home / "index")) and p.endswith(".parquet") for p in before)
    assert Ledger(ws).verify().ok and res.rows > 0


def test_tasks_stay_small_with_a_large_canary_pool(
    spark: object, orders_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool goes to executors as a broadcast: inline, a 1M-number pool made the pickled
    task 1.4 MB, past PySpark's 1 MiB limit beyond which it writes the task — derived
    subkeys included — to a temporary file in Spark's local folder."""
    from pyspark import cloudpickle
    from pyspark.sql import DataFrame

    from leaktrace.spark import release_spark

    ws = init_workspace(tmp_path / "ws", canary_phones=["17090000000-17090999999"])
    add_recipient(ws, "cs-firm", template="customer-service")
    sizes: list[int] = []
    sdf = spark.read.parquet(str(orders_file)).repartition(2)  # type: ignore[attr-defined]
    cls = type(sdf)  # the session's DataFrame class (classic or connect)
    real = cls.mapInArrow

    def measured(self: DataFrame, func: object, schema: object, *a: object, **k: object) -> object:
        sizes.append(len(cloudpickle.dumps(func)))  # type: ignore[no-untyped-call]
        return real(self, func, schema, *a, **k)

    monkeypatch.setattr(cls, "mapInArrow", measured)
    res = release_spark(sdf, recipient="cs-firm", workspace=ws, out=tmp_path / "cs")
    assert sizes and max(sizes) < 100_000, sizes
    assert res.canaries > 0 and Ledger(ws).verify().ok


def test_failure_in_one_partition_leaves_nothing(
    spark: object, tmp_path: Path, orders_file: Path
) -> None:
    from leaktrace.spark import release_spark

    ws = make_workspace(tmp_path / "ws")
    bad = pl.read_parquet(orders_file).with_row_index()
    bad = bad.with_columns(
        pl.when(pl.col("index") == ORDERS - 10)
        .then(None)
        .otherwise(pl.col("order_id"))
        .alias("order_id")
    ).drop("index")
    bad.write_parquet(tmp_path / "bad.parquet")
    sdf = spark.read.parquet(str(tmp_path / "bad.parquet")).repartition(3)  # type: ignore[attr-defined]
    with pytest.raises(InputError, match=r"order_id in Spark partition \d+, data row \d+ is empty"):
        release_spark(sdf, recipient="cs-firm", workspace=ws, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert list(ws.index_dir.iterdir()) == []
    assert Ledger(ws).entries() == []
    assert Ledger(ws).verify().ok


def test_executors_get_derived_subkeys_only(workspace: Workspace, tmp_path: Path) -> None:
    """The shipped spec pickles, holds no master or signing key, and slices canary pools."""
    import pyarrow as pa  # type: ignore[import-untyped]
    from pyspark import cloudpickle

    from leaktrace.spark import executor_spec

    plan = make_plan(workspace, "zto")
    spec = executor_spec(
        workspace,
        plan,
        roles=["order_id", "phone", "courier"],
        partitions=3,
        parts_dir=tmp_path,
        out_schema=pa.schema([("order_id", pa.string())]),
        hash_input=False,
        used_contacts=set(),
    )
    blob = cloudpickle.dumps(spec)  # type: ignore[no-untyped-call]  # what Spark ships
    keys = workspace.home / "keys"
    assert (keys / "master.v1.key").read_bytes()[-32:] not in blob  # the key, not its header
    assert b"PRIVATE KEY" not in blob
    assert "<hidden>" not in repr(spec) and plan.mark_key.hex() not in repr(spec)
    p0, p1 = cloudpickle.loads(blob).plan_for(0), cloudpickle.loads(blob).plan_for(1)
    with pytest.raises(KeyFileError):
        p0.ws.keys.derive("anchor")
    assert p0.policy.canary_min == plan.policy.canary_min and p1.policy.canary_min == 0
    assert p0.release_id != p1.release_id
    pool0 = set(p0.ws.config.canary_pool.phone_numbers())
    pool1 = set(p1.ws.config.canary_pool.phone_numbers())
    assert pool0 and pool1 and not pool0 & pool1
    assert p0.mark_key == plan.mark_key and p0.alias_cipher is not None


def test_missing_pyspark_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, workspace: Workspace, tmp_path: Path
) -> None:
    from leaktrace.spark import release_spark

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ConfigError, match=r"pip install 'leaktrace\[spark\]'"):
        release_spark(object(), recipient="zto", workspace=workspace, out=tmp_path / "o")  # type: ignore[arg-type]


def test_cli_release_spark(
    spark: object, workspace: Workspace, tmp_path: Path, orders_file: Path
) -> None:
    """In-process (joins the module's session; a subprocess would start a second JVM)."""
    import json

    from typer.testing import CliRunner

    from leaktrace.cli import _register, app

    _register()
    csv_in = tmp_path / "orders.csv"  # Chinese headers: roles are inferred, as for a file
    pl.read_parquet(orders_file).head(800).rename(
        {"order_id": "订单编号", "order_time": "下单时间", "name": "收货人", "phone": "手机号码"}
    ).write_csv(csv_in)
    r = CliRunner().invoke(
        app,
        [
            "release-spark",
            str(csv_in),
            "--to",
            "sms",
            "--out",
            str(tmp_path / "sms"),
            "--home",
            str(workspace.home),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["recipient"] == "sms" and summary["rows"] > 800
    out = pl.concat([pl.read_parquet(p) for p in sorted((tmp_path / "sms").glob("part-*"))])
    assert out.columns == ["order_id", "name", "phone", "product"]
    assert Ledger(workspace).verify().ok
    again = CliRunner().invoke(
        app,
        [
            "release-spark",
            str(csv_in),
            "--to",
            "sms",
            "--out",
            str(tmp_path / "sms"),
            "--home",
            str(workspace.home),
        ],
    )
    assert again.exit_code == 2 and "already exists" in again.output
    missing = CliRunner().invoke(
        app,
        ["release-spark", str(csv_in), "--to", "sms", "--out", str(tmp_path / "no" / "sms"),
         "--home", str(workspace.home)],
    )  # fmt: skip
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_float_phones_are_released_as_digits_like_the_file_path(
    spark: object, workspace: Workspace, tmp_path: Path
) -> None:
    """A Parquet file written from pandas with a missing phone holds the phones as
    doubles; Spark writes a double as ``1.3800138E10``. Both paths release the digits."""
    from leaktrace.spark import release_spark

    shop = generate_orders(400, seed=5)
    src = tmp_path / "float-phones.parquet"
    shop.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(None)
        .otherwise(pl.col("phone").cast(pl.Float64))
        .alias("phone")
    ).write_parquet(src)
    sdf = spark.read.parquet(str(src)).repartition(2)  # type: ignore[attr-defined]
    release_spark(sdf, recipient="zto", workspace=workspace, out=tmp_path / "zto")
    got = _read_dir(tmp_path / "zto").get_column("phone").drop_nulls()
    assert got.len() > 50
    assert got.str.contains(r"^1[3-9][0-9]{9}$").all(), got.head(3).to_list()
    single = release(src, recipient="zto", workspace=workspace, out=tmp_path / "z.parquet")
    assert single.rows > 50
    assert (
        pl.read_parquet(tmp_path / "z.parquet")["phone"]
        .drop_nulls()
        .str.contains(r"^1[3-9][0-9]{9}$")
        .all()
    )


def test_swapped_name_and_phone_headers_are_refused(
    spark: object, workspace: Workspace, tmp_path: Path
) -> None:
    """As on one machine: names under the phone's header would be sent under the phone's
    masking (a courier keeps phones), so the release is refused before any task runs."""
    from leaktrace.spark import release_spark

    shop = generate_orders(300, seed=8)
    src = tmp_path / "swapped.parquet"
    shop.rename({"name": "_n"}).rename({"phone": "name"}).rename({"_n": "phone"}).write_parquet(src)
    sdf = spark.read.parquet(str(src))  # type: ignore[attr-defined]
    with pytest.raises(InputError, match=r"column 'name' is read as name .* look like phone"):
        release_spark(sdf, recipient="zto", workspace=workspace, out=tmp_path / "zto")
    assert not (tmp_path / "zto").exists() and Ledger(workspace).entries() == []


def test_a_partitions_canary_numbers_are_a_random_draw_from_the_pool(
    spark: object, tmp_path: Path
) -> None:
    """Session 25's review: partition p drew from the pool as listed, sliced ``[p::P]``, so
    a courier whose rows sat in one partition (data partitioned by courier) had canaries
    all ending in one digit. A dialler calling the 500 pool numbers ending in it hit every
    one and accused the courier at 10^-30, knowing nothing of its copy. The slices are now
    of a keyed permutation: the numbers spread over the final digits and the sweep accuses
    nobody."""
    from collections import Counter
    from datetime import UTC, datetime

    from leaktrace.attribution.attribute import attribute
    from leaktrace.spark import release_spark
    from leaktrace.telecom import ingest
    from leaktrace.workspace import open_workspace

    pool = "17090000000-17090004999"
    ws = init_workspace(tmp_path / "ws")
    ws.config.canary_pool.phones[:] = [pool]
    ws.config.policies["courier"].canary_rate = 0.05
    ws.save()
    ws = open_workspace(ws.home)
    add_recipient(ws, "zto", template="courier", where="courier = '中通快递'")
    pdf = generate_orders(3000, seed=3).to_pandas()
    sdf = spark.createDataFrame(pdf).repartition(10, "courier")  # type: ignore[attr-defined]
    release_spark(sdf, recipient="zto", workspace=ws, out=tmp_path / "zto")
    numbers = [t["contact"] for t in Ledger(ws).canary_tokens()]
    assert len(numbers) >= 20
    digits = Counter(n[-1] for n in numbers)
    assert len(digits) >= 5, digits  # one digit for all of them before the fix
    digit = digits.most_common(1)[0][0]
    lo, hi = (int(x) for x in pool.split("-"))
    sweep = [str(n) for n in range(lo, hi + 1) if str(n).endswith(digit)]
    at = datetime.now(UTC).isoformat(timespec="seconds")
    ingest(
        ws,
        "local",
        [{"id": f"d{i}", "at": at, "channel": "call", "to": n} for i, n in enumerate(sweep)],
    )
    assert [c.recipient for c in attribute(ws).accused] == []


def test_a_filter_on_the_phone_that_drops_canaries_does_not_fail_the_release(
    spark: object, orders_file: Path, tmp_path: Path
) -> None:
    """Session 27's review: a where filter naming the phone (whose canary numbers come
    from the pool, so some canaries pass no redraw) left partitions with fewer canaries
    than they counted, and the driver stopped with "Spark partitions reported canaries
    without canary tokens" (a RuntimeError and its traceback) after the whole job ran.
    A partition now reports the canaries it kept; the driver tops up what is owed."""
    from leaktrace.spark import release_spark

    ws = init_workspace(tmp_path / "ws")
    where = "substr(phone, 11, 1) in ('1', '3', '5')"
    add_recipient(ws, "cs-firm", template="customer-service", where=where)
    policy = ws.config.policies["customer-service"]
    policy.canary_rate, policy.canary_min = 0.005, 25
    ws.save()
    sdf = spark.read.parquet(str(orders_file)).repartition(6)  # type: ignore[attr-defined]
    res = release_spark(sdf, recipient="cs-firm", workspace=ws, out=tmp_path / "cs")
    tokens = Ledger(ws).canary_tokens()
    assert res.canaries == len(tokens) > 0
    out = _read_dir(tmp_path / "cs")
    assert out.height == res.rows
    assert out.filter(~pl.sql_expr(where)).height == 0  # every canary passed the filter
    assert Ledger(ws).verify().ok
