#!/usr/bin/env python3
"""LLM harness overhead: LoadGen Offline tokens/s / bare ``generate`` tokens/s, and Server TTFT.

On the same prompts, batch size and threads, interleaved rounds, median of ``--rounds`` (>= 3);
as many prompts as ``--window`` seconds of bare generation take (at least ``--prompts``):

* Offline: the harness (real LoadGen, the core Offline scheduler, :class:`LLMWorkload`) versus
  a bare loop of ``engine.generate`` over the same batches; ratio = harness / bare tokens/s
  (target >= 0.95);
* Server: LoadGen's p50 first-token latency (mlperf_log_summary.txt) at a low QPS (no
  queueing) versus the bare streamer's time to its first token (``engine.stream``), in ms.

Models: a tiny random Llama built from a config (tokenizer trained here) and SmolLM2-135M-Instruct
(the ``smollm2-135m`` stand-in, built into ``--cache-dir`` once). Prompts: the open-orca smoke set.

    .venv/bin/python bench/llm_overhead.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "files" / "harness"))

from fleetbench_harness import registry
from fleetbench_harness.backends.hf_causal_lm import GenerationParams, HFCausalLM
from fleetbench_harness.loadgen import session
from fleetbench_harness.tasks.llm import dataset, models
from fleetbench_harness.tasks.llm.workload import LLMWorkload


def tiny_llama(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, pre_tokenizers, trainers
    from tokenizers import models as tm
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    if (folder / "config.json").is_file():
        return folder
    texts = [r[1] for r in dataset._QUESTIONS] + [a for a, _ in dataset._ARTICLES]
    tok = Tokenizer(tm.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=512,
            special_tokens=["<unk>", "<s>", "</s>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="</s>").save_pretrained(
        str(folder)
    )
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, eos_token_id=2, pad_token_id=2,
    )  # fmt: skip
    LlamaForCausalLM(cfg).save_pretrained(str(folder))
    return folder


def prompts_for(engine: HFCausalLM, n: int) -> list:
    import numpy as np

    rows = [dataset.LLAMA2_CHAT.format(system=s, question=q) for s, q, _ in dataset._QUESTIONS]
    ids = [np.asarray(engine.tokenizer(t)["input_ids"], dtype=np.int64) for t in rows]
    return [ids[i % len(ids)] for i in range(n)]


def settings(scenario: str, n: int, qps: float):
    import mlperf_loadgen as lg

    s = lg.TestSettings()
    s.scenario = getattr(lg.TestScenario, scenario)
    s.mode = lg.TestMode.PerformanceOnly
    s.min_duration_ms = 0
    s.min_query_count = n
    s.max_query_count = n
    s.performance_sample_count_override = n
    if scenario == "Offline":
        s.offline_expected_qps = qps
    else:
        s.server_target_qps = qps
        s.use_token_latencies = True
        s.ttft_latency = 10**10
        s.tpot_latency = 10**10
    return s


def harness_offline(engine, prompts, params, bs: int, out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    wl = LLMWorkload(engine, prompts, params, len(prompts), False, 1, {})
    stats = session.run_test(wl, settings("Offline", len(prompts), 100.0), "Offline", out, max_batchsize=bs)
    return wl.tokens_generated / stats["test_s"]


def bare_offline(engine, prompts, params, bs: int) -> float:
    t0 = time.perf_counter()
    tokens = 0
    for s in range(0, len(prompts), bs):
        tokens += sum(len(o) for o in engine.generate(prompts[s : s + bs], params))
    return tokens / (time.perf_counter() - t0)


def harness_ttft_ms(engine, prompts, params, out: Path, qps: float) -> float:
    out.mkdir(parents=True, exist_ok=True)
    wl = LLMWorkload(engine, prompts, params, len(prompts), True, 1, {})
    session.run_test(wl, settings("Server", len(prompts), qps), "Server", out, max_batchsize=1)
    text = (out / "mlperf_log_summary.txt").read_text()
    return int(re.search(r"50\.00 percentile first token latency \(ns\)\s*:\s*(\d+)", text).group(1)) / 1e6


def bare_ttft_ms(engine, prompts, params) -> float:
    times = []
    for p in prompts:
        t0 = time.perf_counter()
        first: list[float] = []
        engine.stream(p, params, lambda _t, first=first: first or first.append(time.perf_counter()))
        times.append((first[0] - t0) * 1000)
    return statistics.median(times)


def in_thread(fn, *args):
    """Run ``fn`` in a worker thread, as the harness's schedulers run the engine (same OpenMP state)."""
    box: list = []
    t = threading.Thread(target=lambda: box.append(fn(*args)))
    t.start()
    t.join()
    return box[0]


def bench(name: str, folder: Path, args, work: Path) -> dict:
    engine = HFCausalLM("cpu", "float32", args.threads)
    engine.load(folder)
    params = GenerationParams(max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens)
    probe = prompts_for(engine, args.batch)
    engine.generate(probe, GenerationParams(max_new_tokens=2))  # warm-up
    # Enough prompts for --window seconds of bare generation per measurement (a tiny model makes
    # thousands of tokens/s: 8 prompts would be over before LoadGen's own start-up is amortised).
    rate = in_thread(bare_offline, engine, probe, params, args.batch)
    n = max(args.prompts, int(args.window * rate / args.max_new_tokens))
    prompts = prompts_for(engine, -(-n // args.batch) * args.batch)
    ratios, hs, bs_, ttft_h, ttft_b = [], [], [], [], []
    for r in range(args.rounds):
        b = in_thread(bare_offline, engine, prompts, params, args.batch)
        h = harness_offline(engine, prompts, params, args.batch, work / f"{name}-off-{r}")
        hs.append(h)
        bs_.append(b)
        ratios.append(h / b)
        ttft_b.append(in_thread(bare_ttft_ms, engine, prompts[:4], params))
        ttft_h.append(harness_ttft_ms(engine, prompts[:4], params, work / f"{name}-srv-{r}", args.server_qps))
    return {
        "model": name,
        "prompts": len(prompts),
        "batch": args.batch,
        "max_new_tokens": args.max_new_tokens,
        "offline_tokens_per_s": {
            "harness": round(statistics.median(hs), 2),
            "bare": round(statistics.median(bs_), 2),
        },
        "offline_ratio_median": round(statistics.median(ratios), 4),
        "offline_ratios": [round(x, 4) for x in ratios],
        "server_ttft_p50_ms": {
            "loadgen": round(statistics.median(ttft_h), 2),
            "bare_stream": round(statistics.median(ttft_b), 2),
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=8, help="at least this many prompts per measurement")
    ap.add_argument("--window", type=float, default=8.0, help="seconds of bare generation per measurement")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--server-qps", type=float, default=0.5)
    ap.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "fleetbench-bench-llm"))
    ap.add_argument("--models", default="tiny-llama,smollm2-135m")
    args = ap.parse_args()
    cache = Path(args.cache_dir)
    work = Path(tempfile.mkdtemp(prefix="overhead-llm-"))
    results = []
    for name in args.models.split(","):
        if name == "tiny-llama":
            folder = tiny_llama(cache / "tiny-llama")
        else:
            spec = dict(registry.model("llama2-70b-99")["stand_ins"][name])
            folder = models.model_folder(models.prepare_stand_in(name, spec, cache, None).path)
        res = bench(name, folder, args, work)
        print(json.dumps(res), flush=True)
        results.append(res)
    print(json.dumps({"target_offline_ratio": 0.95, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
