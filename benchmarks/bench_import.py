"""`tuieval import` on 10,000-case files, one per format, as a user runs it (a subprocess).

Writes synthetic files in each format (Inspect JSONL with chat input, an OpenAI evals registry,
an lm-eval task over JSONL, a promptfoo config with inline tests, a Hugging Face CSV), runs
`python -m tuieval import FORMAT FILE > suite.yaml` and then `tuieval validate` on the output,
and prints the wall seconds of each (interpreter start-up included). Budget: import < 2 s.
Run: `python benchmarks/bench_import.py [N]`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def write_files(root: Path, n: int) -> dict[str, Path]:
    files = {}
    p = root / "inspect.jsonl"
    p.write_text("".join(json.dumps({"id": f"s{i}", "input": [{"role": "system", "content": "Be brief."},
                                                               {"role": "user", "content": f"What is {i} + {i}?"}],
                                     "target": str(2 * i), "metadata": {"bucket": i % 7}}) + "\n"
                         for i in range(n)))
    files["inspect"] = p
    (root / "data" / "sums").mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "data" / "sums" / "samples.jsonl").write_text(
        "".join(json.dumps({"input": f"What is {i} + 1?", "ideal": [str(i + 1)]}) + "\n" for i in range(n)))
    (root / "evals" / "sums.yaml").write_text(
        "sums:\n  id: sums.dev.v0\nsums.dev.v0:\n  class: evals.elsuite.basic.includes:Includes\n"
        "  args:\n    samples_jsonl: sums/samples.jsonl\n")
    files["openai-evals"] = root / "evals" / "sums.yaml"
    (root / "docs.jsonl").write_text("".join(json.dumps({"question": f"{i} apples and {i} pears?",
                                                         "answer": f"So {2 * i}.\n#### {2 * i}"}) + "\n"
                                             for i in range(n)))
    (root / "task.yaml").write_text(
        "task: t\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: docs.jsonl\n"
        "doc_to_text: 'Question: {{question}}\\nAnswer:'\ndoc_to_target: '{{answer}}'\n"
        "metric_list:\n  - metric: exact_match\n    regexes_to_ignore: ['(?s).*#### ']\n"
        "filter_list:\n  - name: strict\n    filter:\n      - function: regex\n        regex_pattern: '#### (\\d+)'\n"
        "      - function: take_first\n")
    files["lm-eval"] = root / "task.yaml"
    config = {"prompts": ["Q: {{q}}"], "providers": ["openai:gpt-4o-mini"],
              "tests": [{"vars": {"q": f"Say {i}"}, "assert": [{"type": "icontains", "value": str(i)}],
                         "metadata": {"k": i % 5}} for i in range(n)]}
    (root / "promptfooconfig.yaml").write_text(yaml.dump(config, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper)))
    files["promptfoo"] = root / "promptfooconfig.yaml"
    (root / "tests.csv").write_text("q,__expected,__metadata:k\n" + "".join(f"Say {i},icontains: {i},{i % 5}\n"
                                                                         for i in range(n)))
    (root / "csvconfig.yaml").write_text("prompts: ['Q: {{q}}']\nproviders: [openai:gpt-4o-mini]\n"
                                         "tests: file://tests.csv\n")
    files["promptfoo (tests.csv)"] = root / "csvconfig.yaml"
    (root / "hf.csv").write_text("question,answer,level\n" + "".join(f"What is {i} squared?,{i * i},l{i % 3}\n"
                                                                      for i in range(n)))
    files["hf"] = root / "hf.csv"
    return files


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = write_files(root, n)
        print(f"| format | cases | import s | validate s | suite MB |\n|---|---:|---:|---:|---:|")
        for fmt, path in files.items():
            out = root / f"{fmt}.suite.yaml"
            t0 = time.perf_counter()
            with out.open("w") as fh:
                subprocess.run([sys.executable, "-m", "tuieval", "import", fmt.split()[0], str(path)], stdout=fh,
                               stderr=subprocess.DEVNULL, check=True)
            t_import = time.perf_counter() - t0
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "tuieval", "validate", str(out)], capture_output=True,
                                  text=True, check=True)
            t_validate = time.perf_counter() - t0
            cases = done.stdout.split(": ok — ")[1].split(" cases")[0].split(": ")[-1]
            print(f"| {fmt} | {cases} | {t_import:.2f} | {t_validate:.2f} | {out.stat().st_size / 1e6:.1f} |")


if __name__ == "__main__":
    main()
