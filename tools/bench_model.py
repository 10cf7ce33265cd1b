"""Times a whole Doge model's forward: transformers' DogeForCausalLM against `dmascope-cli forward --backend cuda`.

Runs on a GPU machine (torch 2.11, transformers 5.17). It writes a Doge-20M-shaped random checkpoint with
`dmascope-cli make-model --preset P` (default doge-20m; keep_window_size = --window) and, for each length L, times in this process
transformers' DogeForCausalLM with eager attention (the only correct one in 5.17: its sdpa path is not causal) in bf16
and in fp32, called as its users call it (`model(input_ids)` under torch.no_grad) and, like our bf16 forward, as a
CUDA-graph replay (where transformers' code lets itself be captured): CUDA events around each call, warm-up, the
median of the repeats. Then it runs our forward in bf16 and fp32 with the same length, window
and --repeat, and takes the median device time it prints (the bf16 forward is one replayed CUDA graph; the fp32 one
synchronizes per layer). A run that does not fit in memory is reported as OOM at its L.

Usage: python3 tools/bench_model.py --cli PATH [--preset doge-20m] [--lengths 2048,8192,32768] [--window 2048]
                                    [--repeats 20]
                                    [--work DIR]
"""
import argparse
import gc
import os
import re
import statistics
import subprocess
import sys
import tempfile

import torch


def time_transformers(model_dir, dtype, length, window, warmup, repeats):
    """Median ms of model(input_ids) for one length, called eagerly and as a CUDA-graph replay: a pair of floats or
    strings ("OOM", or why the graph capture failed)."""
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="eager").cuda().eval()
    for layer in model.model.layers:  # the window the checkpoint says, set explicitly (the attention reads it per call)
        layer.self_attn.keep_window_size = window
    generator = torch.Generator(device="cpu").manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (1, length), generator=generator).cuda()

    def median_ms(call):
        times = []
        for _ in range(repeats):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        return statistics.median(times)

    try:
        with torch.no_grad():
            for _ in range(warmup):
                model(ids)
            torch.cuda.synchronize()
            eager = median_ms(lambda: model(ids))
            # Like with like: our bf16 forward is one replayed CUDA graph, so the peer is timed replayed too
            # (warm-up on a side stream first, as torch's CUDA-graph documentation asks). A capture must not copy
            # from host memory: without use_cache=False the forward builds a DynamicCache, and the causal mask it
            # builds from attention_mask=None uses torch.tensor(0.0, device=...) — so the last try passes position
            # ids and a 4-D additive causal mask made on the GPU beforehand (the same mask, in the model's dtype).
            positions = torch.arange(length, device="cuda")
            static = dict(use_cache=False, position_ids=positions[None], cache_position=positions)
            replayed = "no graph"
            tries = [{"use_cache": False}, static]
            if dtype == torch.bfloat16 or length <= 16384:  # the fp32 L×L mask at 32K would take 4 GiB more
                causal = torch.full((length, length), torch.finfo(dtype).min, dtype=dtype, device="cuda").triu(1)
                tries.append(dict(static, attention_mask=causal[None, None]))
            for kwargs in tries:
                try:
                    side = torch.cuda.Stream()
                    side.wait_stream(torch.cuda.current_stream())
                    with torch.cuda.stream(side):
                        for _ in range(3):
                            model(ids, **kwargs)
                    torch.cuda.current_stream().wait_stream(side)
                    graph = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(graph):
                        model(ids, **kwargs)
                    for _ in range(warmup):
                        graph.replay()
                    torch.cuda.synchronize()
                    replayed = median_ms(graph.replay)
                    del graph
                    break
                except Exception as problem:  # a capture transformers' code does not allow: say why
                    torch.cuda.synchronize()
                    print(f"transformers {dtype} L={length}: no CUDA graph with {sorted(kwargs)} "
                          f"({type(problem).__name__}: {str(problem).splitlines()[0][:120]})", file=sys.stderr)
        return eager, replayed
    except torch.cuda.OutOfMemoryError:
        return "OOM", "OOM"
    finally:
        del model
        torch.cuda.empty_cache()


def time_dmascope(cli, model_dir, precision, length, window, repeats):
    """Median device ms our forward prints, or "OOM"/"error" with the message on stderr."""
    # Our forward runs in another process: what this one's torch still caches (a transformers run's tensors kept alive
    # by a traceback until now) would look like memory our forward cannot have.
    gc.collect()
    torch.cuda.empty_cache()
    command = [cli, "forward", "--model", model_dir, "--backend", "cuda", "--precision", precision, "--random",
               str(length), "--window", str(window), "--repeat", str(repeats), "--quiet"]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        print(f"dmascope {precision} L={length}: {run.stderr.strip()}", file=sys.stderr)
        return "OOM" if "memory" in run.stderr else "error"
    match = re.search(r"GPU ([0-9.]+) ms median", run.stdout)
    if not match:
        sys.exit(f"unexpected output of {' '.join(command)}:\n{run.stdout}")
    return float(match.group(1))


def cell(value):
    return value if isinstance(value, str) else f"{value:.3f}"


def ratio(slow, fast):
    return f"{slow / fast:.1f}x" if isinstance(slow, float) and isinstance(fast, float) else "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", required=True, help="the dmascope-cli binary")
    parser.add_argument("--lengths", default="2048,8192,32768")
    parser.add_argument("--window", type=int, default=2048)
    parser.add_argument("--preset", default="doge-20m", help="make-model's preset (doge-20m, doge-60m, ...)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--work", help="folder for the checkpoint (default: a temporary one)")
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    work = args.work or tempfile.mkdtemp(prefix="bench_model_")
    model_dir = os.path.join(work, args.preset)
    subprocess.run([args.cli, "make-model", "--preset", args.preset, "--out", model_dir, "--window", str(args.window),
                    "--force"], check=True, capture_output=True)

    print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; transformers "
          f"{__import__('transformers').__version__}")
    print(f"model: make-model --preset {args.preset} (random weights), w = {args.window}; median of {args.repeats} "
          f"runs after {args.warmup} warm-up runs; ms per forward, batch 1")
    print("transformers: DogeForCausalLM, eager attention, model(ids) under no_grad: called eagerly (CUDA events per "
          "call) and as a CUDA-graph replay")
    print("dmascope: `forward --backend cuda --precision P`, device time (bf16: one CUDA graph replay)")
    header = f"{'L':>6} {'tf bf16':>10} {'tf bf16 graph':>13} {'tf fp32':>10} {'ours bf16':>10} {'ours fp32':>10} " \
             f"{'bf16 vs eager':>13} {'bf16 vs graph':>13} {'fp32 vs eager':>13}"
    print(header)
    for length in lengths:
        # Ours first: a transformers run that ran out of memory can leave torch's cache holding the GPU.
        ours_bf16 = time_dmascope(args.cli, model_dir, "bf16", length, args.window, args.repeats)
        ours_fp32 = time_dmascope(args.cli, model_dir, "fp32", length, args.window, args.repeats)
        tf_bf16, tf_bf16_graph = time_transformers(model_dir, torch.bfloat16, length, args.window, args.warmup,
                                                   args.repeats)
        tf_fp32, _ = time_transformers(model_dir, torch.float32, length, args.window, args.warmup, args.repeats)
        print(f"{length:>6} {cell(tf_bf16):>10} {cell(tf_bf16_graph):>13} {cell(tf_fp32):>10} {cell(ours_bf16):>10} "
              f"{cell(ours_fp32):>10} {ratio(tf_bf16, ours_bf16):>13} {ratio(tf_bf16_graph, ours_bf16):>13} "
              f"{ratio(tf_fp32, ours_fp32):>13}", flush=True)


if __name__ == "__main__":
    main()
