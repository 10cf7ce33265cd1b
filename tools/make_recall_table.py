#!/usr/bin/env python3
"""Write assets/models/recall-table.json, the recall table the app's About / Tour window shows, from the results files
of tools/train_toy_doge.py that made the bundled models (bench/toy-recall/results-L256-warmup.json: every run of
the warm-up training, whose dma-mqar is assets/models/doge-toy-mqar; results-L256-curriculum.json: its dma-mix, bundled
as assets/models/doge-toy-mix).

The app renders the table as it is written here (cells are text), so the numbers live in one data file next to the
models and not in C++. Rerun this after retraining (and update SOURCES):  python3 tools/make_recall_table.py [OUT.json]
"""
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (results file, runs to take from it or None for all, {run: bundled model folder})
SOURCES = [("bench/toy-recall/results-L256-warmup.json", None, {"dma-mqar": "doge-toy-mqar"}),
           ("bench/toy-recall/results-L256-curriculum.json", ["dma-mix"], {"dma-mix": "doge-toy-mix"})]
OUT = os.path.join(ROOT, "assets/models/recall-table.json")

ATTENTION = {"dma": "DMA top-{window}", "dense": "dense (w ≥ L)", "swa": "sliding window {window}"}
SETS = ["mqar16", "mqar32", "mqar48", "needle", "copy"]


def percent(value):
    return "–" if value is None else f"{100.0 * value:.1f}"


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else OUT
    columns = ["run", "results file", "attention", "steps", "MQAR-16", "MQAR-32", "MQAR-48", "needle", "copy",
               "value kept, layer 0 / 1 (MQAR-32)", "bundled as"]
    rows = []
    for results_path, wanted, bundled in SOURCES:
        with open(os.path.join(ROOT, results_path), encoding="utf-8") as f:
            results = json.load(f)
        for run in results["runs"]:
            if wanted is not None and run["run"] not in wanted:
                continue
            evaluation = run.get("eval", {})
            cells = [run["run"], os.path.basename(results_path),
                     ATTENTION[run["variant"]].format(window=run["window"]), str(run["steps"])]
            cells += [percent(evaluation[s]["accuracy"]) if s in evaluation else "–" for s in SETS]
            kept = evaluation.get("mqar32", {}).get("source_kept_rate_per_layer")
            cells.append(" / ".join(percent(rate) for rate in kept) if kept and run["variant"] != "dense" else "–")
            cells.append(bundled.get(run["run"], "–"))
            rows.append(cells)
    meta = results["meta"]
    length = results["runs"][0]["length"]
    table = {
        "dmascope_recall_table": 1,
        "title": f"Toy recall at L = {length}: DMA vs dense vs sliding window (tiny Doge, {meta['date']})",
        "note": ("Accuracy in % of answers on 256 held-out sequences per set (greedy argmax, fp32), trained on one "
                 f"{meta['gpu']}. \"value kept\": how often some kv head's mask kept the "
                 "token the answer must copy. Details: bench/toy-recall/README.md."),
        "source": ", ".join(path for path, _, _ in SOURCES),
        "columns": columns,
        "rows": rows,
    }
    directory = os.path.dirname(os.path.abspath(out_path))
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory, delete=False) as f:
        json.dump(table, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(f.name, out_path)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
