"""spark-submit entry point: `refinery stream` with the same flags (see `refinery stream --help`)."""

import sys
from pathlib import Path

# From a source checkout without an installed wheel, import the library next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from refinery.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["stream", *sys.argv[1:]]))
