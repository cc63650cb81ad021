"""Connected components of an undirected graph, in pure Spark DataFrames.

Alternating large-star / small-star (Kiveris et al., "Connected Components in MapReduce and Beyond",
SoCC 2014): both steps keep the components unchanged and shrink every component towards a star around
its smallest node; they converge in O(log^2 n) rounds. Each round is two shuffles and a small check;
the edge list is checkpointed every round so the plan (and a failure's recomputation) stays short.
Nothing is collected to the driver except one boolean per round.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

Checkpoint = Callable[[DataFrame], DataFrame]


class ComponentsDidNotConverge(RuntimeError):
    """Large-star / small-star ran `max_rounds` rounds without reaching stars."""


def local_checkpoint(df: DataFrame) -> DataFrame:
    """Materialize `df` on the executors and cut its lineage (use a reliable checkpoint on flaky clusters)."""
    return df.localCheckpoint(eager=True)


def _large_star(edges: DataFrame) -> DataFrame:
    """Connect every node's larger neighbours to the smallest node of its neighbourhood (itself included).

    Input and output: `u` > `v`, one row per undirected edge.
    """
    both_ways = edges.select(F.col("u").alias("node"), F.col("v").alias("neighbour")).unionByName(
        edges.select(F.col("v").alias("node"), F.col("u").alias("neighbour"))
    )
    smallest = F.least(F.min("neighbour").over(Window.partitionBy("node")), F.col("node"))
    return (
        both_ways.withColumn("smallest", smallest)
        .where(F.col("neighbour") > F.col("node"))
        .select(F.col("neighbour").alias("u"), F.col("smallest").alias("v"))
        .distinct()
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Connect every node and its smaller neighbours to the smallest of them. Input and output: `u` > `v`."""
    with_smallest = edges.withColumn("smallest", F.min("v").over(Window.partitionBy("u")))
    neighbours = with_smallest.where(F.col("v") != F.col("smallest")).select(
        F.col("v").alias("u"), F.col("smallest").alias("v")
    )
    node = with_smallest.select("u", F.col("smallest").alias("v"))
    return neighbours.unionByName(node).distinct()


def _are_stars(edges: DataFrame) -> bool:
    """True when every component is a star: each node points at one centre, and no centre points further.

    One shuffle: per node, how many edges leave it (as `u`) and how many arrive (as `v`).
    """
    ends = edges.select(F.col("u").alias("node"), F.lit(1).alias("leaves")).unionByName(
        edges.select(F.col("v").alias("node"), F.lit(0).alias("leaves"))
    )
    degrees = ends.groupBy("node").agg(F.sum("leaves").alias("out"), F.count("*").alias("all"))
    not_star = (F.col("out") > 1) | ((F.col("out") == 1) & (F.col("all") > 1))
    return degrees.where(not_star).isEmpty()


def connected_components(
    edges: DataFrame,
    *,
    src: str = "src",
    dst: str = "dst",
    max_rounds: int = 64,
    checkpoint: Checkpoint = local_checkpoint,
) -> tuple[DataFrame, int]:
    """Label every node that has an edge with its component's smallest node.

    Requires: `src`, `dst` (comparable, non-null; direction and duplicates do not matter). Returns
    (`node`, `component`) with one row per node, and the number of rounds it took. Nodes without
    edges are not in the result: they are their own component.
    """
    current = checkpoint(
        edges.where(F.col(src) != F.col(dst))
        .select(F.greatest(src, dst).alias("u"), F.least(src, dst).alias("v"))
        .distinct()
    )
    rounds = 0
    while not _are_stars(current):
        if rounds == max_rounds:
            raise ComponentsDidNotConverge(f"connected components did not converge in {max_rounds} rounds")
        previous = current
        current = checkpoint(_small_star(_large_star(current)))
        previous.unpersist()
        rounds += 1
    leaves = current.select(F.col("u").alias("node"), F.col("v").alias("component"))
    centres = current.select(F.col("v").alias("node"), F.col("v").alias("component")).distinct()
    return leaves.unionByName(centres), rounds
