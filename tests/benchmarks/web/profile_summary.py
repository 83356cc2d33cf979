"""Sum up the py-spy profiles ``make bench-web`` takes with BENCH_WEB_PROFILE=1 (raw
collapsed stacks, one ``frame;frame;... count`` a line, idle threads left out): the
functions with most samples on the stack (inclusive) and at its top (self), and the share of
each package. ``python -m tests.benchmarks.web.profile_summary [files...] [--top N]``."""

from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def _where(frame: str) -> tuple[str, str]:
    match = FRAME.match(frame)
    if not match:
        return frame, frame
    path = match["file"]
    for marker in ("site-packages/", f"{ROOT}/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    package = path.split("/", 1)[0] if "/" in path else path
    return f"{match['func']} ({path})", package


def summarise(files: list[Path], top: int = 40) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for file in files:
        for line in file.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack:
                continue
            samples = int(count)
            total += samples
            frames = [_where(frame) for frame in stack.split(";")]
            for name in {name for name, _ in frames}:
                inclusive[name] += samples
            own[frames[-1][0]] += samples
            packages[frames[-1][1]] += samples
    print(f"{total} samples in {len(files)} profiles")
    for title, counter in (("inclusive", inclusive), ("self", own), ("self by package", packages)):
        print(f"\n{title}:")
        for name, samples in counter.most_common(top):
            print(f"{100 * samples / total:5.1f} %  {name[:150]}")


if __name__ == "__main__":
    args = sys.argv[1:]
    top = 40
    if "--top" in args:
        index = args.index("--top")
        top = int(args[index + 1])
        del args[index : index + 2]
    paths = [Path(a) for a in args] or sorted((ROOT / ".tmp" / "bench-web").glob("profile-*.txt"))
    summarise(paths, top)
