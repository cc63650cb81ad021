"""One module decides what is local, how locations join and what lies below what."""

from __future__ import annotations

import pytest

from refinery import paths


@pytest.mark.parametrize(
    ("location", "local"),
    [
        ("/data/lake", True),
        ("lake", True),
        ("file:/data/lake", True),
        ("file:///data/lake", True),
        ("dbfs:/mnt/lake", False),
        ("s3a://bucket/lake", False),
        ("abfss://c@acct.dfs.core.windows.net/lake", False),
        ("myfs://cluster/lake", False),  # a custom scheme Hadoop is configured for
    ],
)
def test_what_is_local(location, local):
    assert paths.is_local(location) is local


def test_local_roots_are_absolute_and_lose_trailing_slashes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.normalize("lake/") == str(tmp_path.resolve() / "lake")
    assert paths.normalize(f"file://{tmp_path}/lake/") == str(tmp_path.resolve() / "lake")
    assert paths.normalize("lake", base="/project") == "/project/lake"
    assert paths.normalize("/abs/lake", base="/project") == "/abs/lake"


def test_uri_roots_keep_their_form():
    assert paths.normalize("s3a://bucket/lake/") == "s3a://bucket/lake"
    assert paths.normalize("dbfs:/") == "dbfs:/"
    assert paths.join("dbfs:/", "gold", "web_text") == "dbfs:/gold/web_text"
    assert paths.join("dbfs:/mnt/lake/", "gold", "web_text") == "dbfs:/mnt/lake/gold/web_text"
    assert paths.join("myfs://cluster/lake", "raw", "p") == "myfs://cluster/lake/raw/p"


def test_relative_to_compares_any_spelling_of_a_local_root(tmp_path):
    root = tmp_path / "raw" / "web_text"
    for spelling in (str(root), f"{root}/", f"file:{root}", f"file://{root}"):
        assert paths.relative_to(f"file:{root}/a/b.jsonl", spelling) == "a/b.jsonl"
    assert paths.relative_to(f"file:{tmp_path}/other/b.jsonl", str(root)) is None
    assert paths.relative_to(f"{root}x/b.jsonl", str(root)) is None  # a sibling with a longer name
    assert paths.below_or_absolute("s3a://b/lake/raw/p/x.json", "s3a://b/lake/raw/p/") == "x.json"
    assert paths.below_or_absolute("s3a://b/other/x.json", "s3a://b/lake/raw/p") == "s3a://b/other/x.json"
    assert paths.relative_to("s3a://b/lake/raw/p/x", str(root)) is None  # local root, remote file


def test_as_uri_spells_local_files_as_spark_does(tmp_path):
    assert paths.as_uri(str(tmp_path / "a b:c.jsonl")) == f"file:{tmp_path.resolve()}/a b:c.jsonl"
    assert paths.as_uri("dbfs:/mnt/x.jsonl") == "dbfs:/mnt/x.jsonl"
    assert paths.exists_locally("dbfs:/mnt/x.jsonl") is None
    assert paths.exists_locally(str(tmp_path)) is True


def test_project_root_follows_refinery_home(tmp_path, monkeypatch):
    monkeypatch.setenv("REFINERY_HOME", str(tmp_path))
    assert paths.project_root() == tmp_path.resolve()


def test_remote_raw_sources_are_left_to_their_file_system(tmp_path):
    from refinery.config import SourceConfig
    from refinery.io.listing import RawPathError, check_raw_path

    raw_root = str(tmp_path / "raw" / "web_text")
    assert SourceConfig(path="dbfs:/mnt/landing/web").folder(raw_root) == "dbfs:/mnt/landing/web"
    assert SourceConfig(path="crawl/2026").folder(raw_root) == f"{raw_root}/crawl/2026"
    assert SourceConfig(path=f"file:{tmp_path}/other").folder(raw_root) == f"file:{tmp_path}/other"
    check_raw_path("dbfs:/mnt/landing/web")  # not a local path: listing it is what tells whether it exists
    with pytest.raises(RawPathError, match="does not exist"):
        check_raw_path(f"file:{tmp_path}/nowhere")


def test_a_symlinked_file_below_the_root_keeps_its_name_below_the_root(tmp_path):
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text("{}\n")
    root = tmp_path / "raw" / "web_text"
    root.mkdir(parents=True)
    (root / "linked.jsonl").symlink_to(outside)
    assert paths.relative_to(f"file:{root}/linked.jsonl", str(root)) == "linked.jsonl"
