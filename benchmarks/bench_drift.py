"""`tuieval drift` over a large traffic log: wall time and peak memory, streamed.

Writes a synthetic log of N lines (default 1,000,000: flat records with a prompt, a short
response, a timestamp and metadata; mixed lengths, scripts and digits, one line in 1,000
malformed) and times, each in its own subprocess (CPU and peak RSS from os.wait4):

* `floor` — reading the file line by line and `json.loads` of each line, nothing else;
* `reader` — `tuieval.traffic.log.iter_log` alone (the shapes, the checks);
* `drift` — the whole `tuieval drift SUITE LOG --window 1d --format json`;
* `drift/10` — the same on the first tenth of the log, to show memory does not grow with lines.

With `--baseline-src DIR` (a directory holding another version's `tuieval` package, e.g. from
`git archive OLD tuieval | tar -x -C DIR`), each drift row is also measured with that code,
right after the current one, so the two are compared under the same load.

    python benchmarks/bench_drift.py [--lines N] [--keep] [--baseline-src DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "sample_suites" / "extraction.yaml"

_PROMPTS = [
    "Who signed the lease for the flat on the corner?",
    "The quarterly meeting was chaired by {name}, who kept it short. Who chaired the meeting?",
    "Кто подписал договор аренды квартиры?",
    "Invoice 4471 was approved by {name} on 12 March. Who approved invoice 4471?",
    "请问这份报告是谁写的？",
]
_NAMES = ["Anna Berg", "José Álvarez", "Łukasz Nowak", "Peter Holloway", "Zoë Müller"]
_VOCAB = [f"{a}{b}" for a in ("lo", "ra", "mi", "ve", "su", "ka", "te", "no", "pa", "di")
          for b in ("ran", "tel", "mos", "vik", "dun", "sar", "pel", "gor", "fin", "lat",
                    "bor", "ses", "tam", "rud", "vol", "nip", "cah", "zem", "hul", "wes",
                    "jor", "qua", "xel", "yin", "ost", "ump", "ild", "erk", "ash", "oon",
                    "ruk", "bel", "dax", "fyr", "gal", "hep", "ivo", "jut", "kel", "lum",
                    "mav", "nox", "orb", "pim", "qel", "ris", "sul", "tov", "urn", "vex")]
_LONG = " ".join(["The committee went through the agenda item by item and recorded every decision."] * 60)


def write_log(path: Path, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    t0 = 1_790_000_000  # seconds; the log spans about 12 days
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            if i % 1000 == 999:
                fh.write("{broken\n")
                continue
            # two random words of a 500-word vocabulary make nearly every prompt distinct, so
            # nothing can be gained by remembering a prompt seen before
            p = rng.choice(_PROMPTS).format(name=rng.choice(_NAMES)) + f" Context: {rng.choice(_VOCAB)} {rng.choice(_VOCAB)}."
            if rng.random() < 0.05:
                p = _LONG + " " + p
            rec = {"prompt": p, "response": rng.choice(_NAMES), "timestamp": t0 + i,
                   "metadata": {"name_origin": rng.choice(["english", "non_english"]), "channel": "web"}}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


_FLOOR = "import json,sys\nfor line in open(sys.argv[1], 'rb'):\n    try: json.loads(line)\n    except ValueError: pass\n"
_READER = "import sys\nfrom tuieval.traffic.log import iter_log\nn=0\nfor r in iter_log(sys.argv[1]): n+=1\n"


def measure(argv: list[str], src: str | None = None) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one child process (importing tuieval from `src` when given;
    run from a temporary directory so the current directory's package is not the one imported)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = src or str(ROOT)
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            cwd=tempfile.gettempdir())
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[:4]} failed: {proc.stderr.read().decode()[-400:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the generated logs")
    ap.add_argument("--baseline-src", default=None, help="a directory with another version's tuieval package")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_drift_"))
    big, small = tmp / "traffic.jsonl", tmp / "traffic_tenth.jsonl"
    write_log(big, args.lines)
    write_log(small, args.lines // 10)
    py = sys.executable
    drift = [py, "-m", "tuieval", "drift", str(SUITE)]
    drift_rows = [
        ("drift --window 1d", drift + [str(big), "--window", "1d", "--format", "json"]),
        ("drift, no window", drift + [str(big), "--format", "json"]),
        (f"drift --window 1d, {args.lines // 10:,} lines", drift + [str(small), "--window", "1d", "--format", "json"]),
    ]
    rows = [
        ("floor (json.loads per line)", measure([py, "-c", _FLOOR, str(big)])),
        ("reader (iter_log)", measure([py, "-c", _READER, str(big)])),
    ]
    for name, argv in drift_rows:
        rows.append((name, measure(argv)))
        if args.baseline_src:
            rows.append((f"{name} (baseline code)", measure(argv, args.baseline_src)))
    floor = rows[0][1]
    print(f"{args.lines:,} lines, {big.stat().st_size / 1e6:.0f} MB; Python {sys.version.split()[0]}; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| what | wall s | CPU s | peak RSS MB | CPU × floor |")
    print("|---|---:|---:|---:|---:|")
    for name, (wall, cpu, rss) in rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {cpu / floor[1]:.2f} |")
    if not args.keep:
        big.unlink()
        small.unlink()
        tmp.rmdir()
    else:
        print(f"logs kept in {tmp}")


if __name__ == "__main__":
    main()
