"""One SparkSession for the whole test session: local[2], few shuffle partitions, UI off, cached Delta jars."""

from __future__ import annotations

import pytest

from refinery.config import load_config
from refinery.session import get_session


@pytest.fixture(scope="session")
def spark():
    config = load_config("web_text", "local", ["spark.conf.spark.sql.shuffle.partitions=2"])
    session = get_session(config.spark)
    yield session
    session.stop()
