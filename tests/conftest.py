"""One SparkSession for the whole test session: local[2], few shuffle partitions, UI off, cached Delta jars."""

from __future__ import annotations

import pytest

from refinery.config import load_config
from refinery.session import get_session


def pytest_collection_modifyitems(items):
    """Tests marked `after_all` run last: they read what the others wrote."""
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("warehouse")  # managed tables of catalog-mode tests
    config = load_config(
        "web_text",
        "local",
        ["spark.conf.spark.sql.shuffle.partitions=2", f"spark.conf.spark.sql.warehouse.dir={warehouse}"],
    )
    session = get_session(config.spark)
    yield session
    session.stop()


# Publish settings of the `released_lake` fixture: splits grouped by url host, small files.
RELEASE_SETTINGS = ["--set", "publish.group_key=url_host", "--set", "publish.target_file_mb=1", "-q"]


@pytest.fixture(scope="session")
def released_lake(spark, tmp_path_factory):
    """A lake with two releases: r1 over 1,500 docs; then 1,000 new docs arrive and r2 covers all 2,500."""
    from refinery.cli import main
    from tests.helpers import silver_docs, write_silver_dedup

    lake = tmp_path_factory.mktemp("released")

    def cli(*args):
        return main([*args, "--lake", str(lake), *RELEASE_SETTINGS])

    write_silver_dedup(spark, lake, silver_docs(spark, 0, 1_500))
    assert cli("publish") == 0
    assert cli("release", "create", "r1") == 0
    write_silver_dedup(spark, lake, silver_docs(spark, 0, 2_500))
    assert cli("publish") == 0
    assert cli("release", "create", "r2") == 0
    return lake


@pytest.fixture(scope="session")
def sample_lakes(spark, tmp_path_factory):
    """The sample built stage by stage, with saved states and the finished lake's reference state."""
    from refinery.cli import main
    from tests.processes import SampleLakes

    def run(lake, *args):
        return main([*args, "--lake", str(lake), "-q"])

    lakes = SampleLakes(tmp_path_factory.mktemp("sample")).build(spark, run)
    assert all(value == 0 for key, value in lakes.reference.items() if "doubled" in key or "twice" in key)
    return lakes


@pytest.fixture(scope="session")
def tabular_lake(spark, tmp_path_factory):
    """The tabular sample run once (`refinery run --pipeline tabular`): (lake, everything the run printed)."""
    from tests.tabular import seed_tabular, tabular_cli

    lake = seed_tabular(tmp_path_factory.mktemp("tabular"))
    code, printed = tabular_cli(lake, "run")
    assert code == 0, printed
    return lake, printed
