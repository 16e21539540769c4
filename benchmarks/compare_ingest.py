"""Before/after check for ingest changes: ingest a folder with two checkouts of vidrag and compare.

    python -m benchmarks.compare_ingest FOLDER --base /path/to/old/checkout [--out DIR]

Each checkout ingests FOLDER into its own home (in a child process of this venv, with the
checkout's code put in place of the installed one) with the default offline settings; then every
stored point (id, payload, dense and sparse vectors) and every catalog row (status, duration, cuts,
clip count, summary, warnings) is compared. Exit status 0 when they are the same (dense vectors
within 1e-5), 1 with the differences printed when not; each side's peak RSS and wall time are printed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time, resource
root, folder, home, out = sys.argv[1:5]
import __editable___vidrag_0_1_0_finder as finder
here = finder.MAPPING["vidrag.indexing"].rsplit("/", 1)[0]
for table in (finder.MAPPING, finder.NAMESPACES):
    for key, value in table.items():
        table[key] = [v.replace(here, root) for v in value] if isinstance(value, list) else value.replace(here, root)
from vidrag.api.settings import Settings
from vidrag.api.wiring import open_library
from vidrag.storage.qdrant_store import Where
import vidrag.indexing
assert vidrag.indexing.__file__.startswith(root), vidrag.indexing.__file__
library = open_library(Settings(home=home), for_ingest=True)
started = time.perf_counter()
results = library.ingest([folder])
wall = time.perf_counter() - started
edge = library.store._edge
points = {}
for record in library.catalog.list_videos():
    flt = edge.Filter(must=[edge.FieldCondition("video_id", match=edge.MatchValue(record.id))])
    request = edge.ScrollRequest(limit=100000, filter=flt, with_payload=True, with_vector=True)
    found, _ = library.store.shard.scroll(request)
    for r in found:
        sparse = r.vector["sparse"]
        points[str(r.id)] = {"payload": r.payload, "dense": [float(x) for x in r.vector["dense"]],
                             "sparse": [list(map(int, sparse.indices)), [float(v) for v in sparse.values]]}
videos = {r.path.rsplit("/", 1)[-1]: {"id": r.id, "status": r.status, "duration": r.duration, "cuts": r.cuts,
          "clips": r.clip_count, "summary": r.summary, "warnings": r.warnings, "language": r.language}
          for r in library.catalog.list_videos()}
library.close()
json.dump({"points": points, "videos": videos, "wall_s": wall,
           "statuses": {r.path.rsplit("/", 1)[-1]: r.status for r in results},
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, open(out, "w"))
"""


def run(root: Path, folder: Path, work: Path, name: str) -> dict:
    out = work / f"{name}.json"
    command = [sys.executable, "-c", _CHILD, str(root), str(folder), str(work / f"home-{name}"), str(out)]
    subprocess.run(command, check=True, cwd=work)
    return json.loads(out.read_text())


def differences(before: dict, after: dict) -> list[str]:
    found = []
    if before["videos"] != after["videos"]:
        for name in sorted(set(before["videos"]) | set(after["videos"])):
            if before["videos"].get(name) != after["videos"].get(name):
                found.append(f"video {name}: {before['videos'].get(name)} != {after['videos'].get(name)}")
    old, new = before["points"], after["points"]
    if set(old) != set(new):
        found.append(f"point ids differ: {len(set(old) - set(new))} only before, {len(set(new) - set(old))} only after")
    for pid in sorted(set(old) & set(new)):
        a, b = old[pid], new[pid]
        if a["payload"] != b["payload"] or a["sparse"] != b["sparse"]:
            found.append(f"point {pid}: payload or sparse vector differs")
        elif max(abs(x - y) for x, y in zip(a["dense"], b["dense"])) > 1e-5:
            found.append(f"point {pid}: dense vector differs")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--base", type=Path, required=True, help="the checkout to compare against")
    parser.add_argument("--out", type=Path, help="folder for the homes and dumps (default: a temporary one)")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="compare-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    sides = {}
    for name, root in (("before", args.base.resolve()), ("after", HERE)):
        started = time.perf_counter()
        sides[name] = run(root, args.folder.resolve(), work, name)
        print(
            f"{name}: {root}  wall {sides[name]['wall_s']:.1f} s ingest ({time.perf_counter() - started:.1f} s "
            f"with start-up), peak RSS {sides[name]['peak_rss_mb']:.0f} MB, {len(sides[name]['points'])} points"
        )
    found = differences(sides["before"], sides["after"])
    print("\n".join(found[:40]) if found else "same videos, same point ids, payloads and vectors")
    print(f"children's peak RSS {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
