# Copyright: fleetbench.mlperf contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report plots (matplotlib, controller only): throughput per SUT/scenario and latency percentiles."""

from __future__ import annotations

import os

PLOT_THROUGHPUT = "plot_throughput.png"

PLOT_LATENCY = "plot_latency.png"

PERCENTILE_KEYS = ("p50", "p90", "p95", "p97", "p99", "p99.9")


def make_plots(records, out_dir):
    """Write the PNG plots into ``out_dir``; returns ``{title: file name}`` (only plots with data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = {}
    perf = [r for r in records if r["mode"] == "performance" and r["value"] is not None]
    thr = [r for r in perf if r["unit"] in ("samples/s", "tokens/s")]
    if thr:
        fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(thr) + 2), 4))
        labels = [f"{r['system']}\n{r['model']}/{r['scenario']}" for r in thr]
        colors = ["tab:green" if r["validity"] == "VALID" else "tab:red" for r in thr]
        ax.bar(range(len(thr)), [r["value"] for r in thr], color=colors)
        ax.set_xticks(range(len(thr)), labels, rotation=30, ha="right", fontsize=7)
        units = sorted({r["unit"] for r in thr})
        ax.set_ylabel(" | ".join(units))
        ax.set_title("Throughput per SUT and scenario (green VALID, red INVALID)")
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, PLOT_THROUGHPUT), dpi=90)
        plt.close(fig)
        plots["Throughput per SUT and scenario"] = PLOT_THROUGHPUT
    lat = [
        r
        for r in records
        if r["mode"] == "performance"
        and any((r.get("latency_ms") or {}).get(k) is not None for k in PERCENTILE_KEYS)
    ]
    if lat:
        fig, ax = plt.subplots(figsize=(7, 4))
        for rec in lat:
            ys = [(rec["latency_ms"] or {}).get(k) for k in PERCENTILE_KEYS]
            ax.plot(
                PERCENTILE_KEYS, ys, marker="o", label=f"{rec['system']} {rec['model']}/{rec['scenario']}"
            )
        ax.set_yscale("log")
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency (ms)")
        ax.set_title("Latency percentiles per run")
        ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, PLOT_LATENCY), dpi=90)
        plt.close(fig)
        plots["Latency percentiles per run"] = PLOT_LATENCY
    return plots
