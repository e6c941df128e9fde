#!/usr/bin/env python3
# Plots bench/frontier.sh's JSON: WikiText perplexity against bits per weight, one marker per
# kind (dcllm, its baselines, llama.cpp), into a PNG (default docs/figures/frontier.png).
# Usage: scripts/plot_frontier.py FRONTIER.json [OUT.png]
import json
import sys

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "dcllm": dict(marker="o", color="tab:blue", label="dcllm"),
    "baseline": dict(marker="s", color="tab:gray", label="dcllm baselines (W8A8)"),
    "llama.cpp": dict(marker="^", color="tab:red", label="llama.cpp (llama-quantize)"),
    "source": dict(marker="*", color="black", label="source (float)"),
}


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: plot_frontier.py FRONTIER.json [OUT.png]")
    out = argv[2] if len(argv) > 2 else "docs/figures/frontier.png"
    with open(argv[1]) as f:
        doc = json.load(f)
    rows = [r for r in doc["rows"] if r["kind"] != "source"]
    source = [r for r in doc["rows"] if r["kind"] == "source"]
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    seen = set()
    for r in rows:
        style = dict(STYLE.get(r["kind"], STYLE["dcllm"]))
        if r["kind"] in seen:
            style.pop("label")
        seen.add(r["kind"])
        ax.scatter(r["bits_per_weight"], r["ppl"], s=36, zorder=3, **style)
        ax.annotate(r["name"], (r["bits_per_weight"], r["ppl"]), textcoords="offset points",
                    xytext=(4, 4), fontsize=7)
    for r in source:
        ax.axhline(r["ppl"], color="black", linewidth=0.8, linestyle=":",
                   label=f"source ppl {r['ppl']:.3f}")
    p = doc.get("protocol", {})
    ax.set_xlabel("bits per weight (all quantized tensors, everything counted)")
    ax.set_ylabel(f"WikiText-2 perplexity (ctx {p.get('ctx', '?')}, {p.get('chunks', '?')} windows)")
    ax.set_title(doc.get("model", "").split("/")[-1])
    ax.grid(True, linewidth=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    print(out)


if __name__ == "__main__":
    main(sys.argv)
