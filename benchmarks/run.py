"""`make bench`: every benchmark in turn; each writes its section of benchmarks/results.md.

python benchmarks/run.py                 # all
python benchmarks/run.py public_pages    # one, with its own options after `--`
"""

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["public_pages", "comment_export"]


def main() -> None:
    names = [a for a in sys.argv[1:] if not a.startswith("-")] or BENCHMARKS
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    for name in names:
        if not (HERE / f"{name}.py").exists():
            continue
        print(f"== {name}", flush=True)
        sys.argv = [name, *[a for a in sys.argv[1:] if a.startswith("-")]]
        runpy.run_path(str(HERE / f"{name}.py"), run_name="__main__")


if __name__ == "__main__":
    main()
