import random

import pytest

from refinery.transforms.components import connected_components


def components_of(spark, edges, **kwargs):
    df = spark.createDataFrame(edges, "src string, dst string")
    labelled, rounds = connected_components(df, **kwargs)
    return {row["node"]: row["component"] for row in labelled.collect()}, rounds


def expected_components(edges):
    """Reference answer by union-find in plain Python."""
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {node: find(node) for node in parent}


def test_chain_ends_in_one_component_labelled_by_its_smallest_node(spark):
    labels, _ = components_of(spark, [("c", "b"), ("d", "c"), ("b", "a"), ("x", "y")])
    assert labels == {"a": "a", "b": "a", "c": "a", "d": "a", "x": "x", "y": "x"}


def test_a_node_with_two_centres_is_merged(spark):
    labels, rounds = components_of(spark, [("e", "a"), ("e", "b")])
    assert labels == {"a": "a", "b": "a", "e": "a"}
    assert rounds >= 1


def test_random_graphs_match_union_find(spark):
    rng = random.Random(7)
    nodes = [f"n{i:03d}" for i in range(300)]
    edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(220)]
    edges += [(f"p{i:03d}", f"p{i + 1:03d}") for i in range(40)]  # a long path: the worst case for label propagation
    labels, _ = components_of(spark, edges)
    assert labels == {node: component for node, component in expected_components(edges).items() if node in labels}
    assert set(labels) == {node for edge in edges for node in edge if edge[0] != edge[1]}


def test_self_loops_and_duplicates_do_not_matter(spark):
    labels, _ = components_of(spark, [("a", "a"), ("b", "a"), ("a", "b"), ("b", "a")])
    assert labels == {"a": "a", "b": "a"}


def test_round_limit_is_an_error(spark):
    edges = [(f"p{i:03d}", f"p{i + 1:03d}") for i in range(64)]
    with pytest.raises(RuntimeError, match="did not converge"):
        components_of(spark, edges, max_rounds=1)
