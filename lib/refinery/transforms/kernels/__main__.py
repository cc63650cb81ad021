"""`python -m refinery.transforms.kernels`: compile every kernel once into numba's on-disk cache (make setup-run
and make dist do it, so a first run, and every executor of a packed environment, starts without compiling)."""

from __future__ import annotations

import time

import pyarrow as pa

from refinery.transforms.kernels.language import lid176
from refinery.transforms.kernels.pii import find_pii_fast
from refinery.transforms.kernels.quality import QualityKernel
from refinery.transforms.language import MAX_CHARS
from refinery.transforms.minhash import MinHasher
from refinery.transforms.params import (
    C4Params,
    FineWebParams,
    GopherQualityParams,
    GopherRepetitionParams,
    MinHashParams,
)
from refinery.transforms.quality import QualityFilters


def main() -> None:
    start = time.perf_counter()
    filters = QualityFilters(GopherRepetitionParams(), GopherQualityParams(), C4Params(), FineWebParams())
    QualityKernel(filters).check_batch(["A first line of text.\n\nAnd a second one [1].", ""], ["en", None])
    find_pii_fast("mail a@b.example or call +1 415 555 0132 from 10.0.0.1")
    lid176().detect(["Une phrase en français.", "", None], MAX_CHARS)
    MinHasher(MinHashParams()).signatures(pa.array(["one two three four five six", ""]))
    print(f"refinery: curation kernels compiled and cached in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
