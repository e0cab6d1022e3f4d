"""`make bench`: every benchmark in turn; each writes its section of benchmarks/results.md.

python benchmarks/run.py                 # all
python benchmarks/run.py public_pages --seconds 20    # one, with its options after its name
python benchmarks/run.py console comment_export       # several
make bench BENCH=console                               # the same through make
"""

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["console", "list_sweep", "comment_export", "public_pages", "load"]


def main() -> None:
    args = sys.argv[1:]
    split = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    names, options = args[:split] or BENCHMARKS, args[split:]
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    for name in names:
        if name not in BENCHMARKS:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        print(f"== {name}", flush=True)
        sys.argv = [name, *options]
        runpy.run_path(str(HERE / f"{name}.py"), run_name="__main__")


if __name__ == "__main__":
    main()
