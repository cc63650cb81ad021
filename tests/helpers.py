"""Small test helpers."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import MapType


def comparable(df: DataFrame) -> DataFrame:
    """Maps cannot be sorted or hashed by Spark: replace each map column by its sorted entries for chispa."""
    maps = [f.name for f in df.schema.fields if isinstance(f.dataType, MapType)]
    return df.withColumns({name: F.array_sort(F.map_entries(name)) for name in maps})
