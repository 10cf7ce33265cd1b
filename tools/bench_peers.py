"""Times dmascope's CUDA kernels and their peers on the same GPU in one run, like with like, and checks our output.

Runs on a GPU machine (torch 2.11). For each shape it calls `dmascope-cli bench --backend cuda --json`: DMA with the
mask build included, replayed as one CUDA graph (`dma_ms`), and our dense kernel. In this process it times torch's
dense causal attention through SDPA's flash and cuDNN backends (K/V expanded to the query heads outside the timed
region, since the cuDNN backend has no GQA) and FlexAttention with a 128×128 causal block mask, each twice: called
eagerly (host dispatch included) and replayed from a CUDA graph captured around the same call. The ratios divide the
peers' graph times by our graph-replayed `dma_ms`. Times are CUDA-event medians after warm-up.

Correctness at the benchmark shapes: on the `random`-β rows at 32K tokens and more, `bench --save-output` writes the
row's inputs and our output on sampled query rows (the last one included); this script recomputes those rows exactly —
the top-w keys of each row's causal prefix by β (ties to the lower index), then the masked softmax in float64 — and
reports the worst relative error (norm of the difference over the norm of the reference, per row and head).

With --fsa DIR (a copy of flash-algo's flash-sparse-attn holding its flash_sparse_attn package; not part of dmascope)
it also times that project's Triton kernel on the 2/1-head, d 64 rows, fed the way its own benchmark
(benchmarks/forward_performance.py) feeds its CUDA kernel, which is that kernel's best: β as [B, Hkv, 1, L] broadcast
over the query rows (stride 0), K/V with their own kv heads (native GQA, no repeat), and the boolean mask built per kv
head by its own `create_mask(type="topk")` from that broadcast bias and the causal mask — per row, the w largest causal
biases, the same semantics as ours. The mask build is timed separately (eager); the kernel eager and graph-replayed;
its output is checked against the same float64 reference on sampled rows, with its own mask.

Usage: python3 tools/bench_peers.py --cli PATH [--quick] [--max-len N] [--fsa DIR] [--out FILE.json]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

# (L, w, Hq, Hkv, d, bias): the target rows first (bench/h200/README.md), then a spread over L and w.
QUICK = [(32768, 1024, 2, 1, 64, "random"), (32768, 2048, 32, 8, 128, "random"), (131072, 2048, 32, 8, 128, "random")]
TARGETS = QUICK[:1] + [(32768, 1024, 2, 1, 64, "clustered")] + QUICK[1:2] + \
          [(32768, 32768, 2, 1, 64, "random"), (16384, 16384, 32, 8, 128, "random")] + QUICK[2:]
SPREAD = [(L, w, 2, 1, 64, "random") for L in (4096, 16384, 65536) for w in (256, 4096)] + \
         [(8192, 1024, 32, 8, 64, "random"), (65536, 1024, 32, 8, 128, "random")]

CHECK_MIN_LEN = 32768  # the output check runs on the random-β rows from here on (the GPU tests cover L ≤ 5000)
CHECK_ROWS = 64
# Per (row, head): |out − ref| / |ref| of a bf16 output. bf16 keeps 8 mantissa bits (relative rounding ≤ 2^-9 per
# element) and the kernel rounds the probabilities to bf16 before P·V, as flash attention does: a few 1e-3 is what a
# correct kernel shows; a wrong key set or a lost tile gives errors of order 1.
CHECK_TOLERANCE = 2e-2


def median_ms(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return times[len(times) // 2]


def graph_ms(fn, warmup, repeats):
    """fn captured once into a CUDA graph (after warm-up on a side stream, as torch's docs require), then replayed."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    ms = median_ms(graph.replay, warmup, repeats)
    del graph
    return ms


def eager_and_graph(name, fn, times, warmup, repeats, context=None):
    """times[name_eager_ms], times[name_graph_ms]; a peer that refuses (shape, memory, capture) is reported, not fatal."""
    for kind, timer in (("eager", median_ms), ("graph", graph_ms)):
        key = f"{name}_{kind}_ms"
        try:
            if context is not None:
                with context():
                    times[key] = timer(fn, warmup, repeats)
            else:
                times[key] = timer(fn, warmup, repeats)
        except Exception as error:
            times[key] = None
            print(f"  {key}: {type(error).__name__}: {str(error)[:160]}", file=sys.stderr)
            torch.cuda.synchronize()
            torch.cuda.empty_cache()


def peer_times(L, Hq, Hkv, d, repeats):
    gen = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(1, Hq, L, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    k = torch.randn(1, Hkv, L, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    v = torch.randn(1, Hkv, L, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    ke, ve = k.repeat_interleave(Hq // Hkv, 1), v.repeat_interleave(Hq // Hkv, 1)
    times = {}
    warmup = 3 if repeats > 5 else 1
    sdpa = lambda: F.scaled_dot_product_attention(q, ke, ve, is_causal=True)
    eager_and_graph("sdpa_flash", sdpa, times, warmup, repeats, lambda: sdpa_kernel(SDPBackend.FLASH_ATTENTION))
    eager_and_graph("sdpa_cudnn", sdpa, times, warmup, repeats, lambda: sdpa_kernel(SDPBackend.CUDNN_ATTENTION))
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
        block_mask = create_block_mask(lambda b, h, qi, ki: ki <= qi, 1, 1, L, L, device="cuda")
        flex = torch.compile(flex_attention)
        eager_and_graph("flex_causal", lambda: flex(q, ke, ve, block_mask=block_mask), times, warmup, repeats)
        del block_mask
    except Exception as error:
        times["flex_causal_eager_ms"] = times["flex_causal_graph_ms"] = None
        print(f"  flex: {type(error).__name__}: {str(error)[:160]}", file=sys.stderr)
    del q, k, v, ke, ve
    torch.cuda.empty_cache()
    return times


def reference_rows(q_rows, k, v, beta, rows, window, kept=None):
    """Exact DMA output of the sampled rows in float64: [Hq, n, d].

    q_rows [Hq, n, d], k/v [Hkv, L, d], beta [Hb, L] with Hb = Hkv (one bias head per kv head). Row i keeps the w best
    keys of {0..i} by β, ties to the lower index (a stable descending sort keeps equal values in index order) — unless
    `kept(head_kv, i)` gives the kept key indices (a peer checked with its own mask)."""
    Hq, n, d = q_rows.shape
    group = Hq // k.shape[0]
    out = torch.empty(Hq, n, d, dtype=torch.float64, device=q_rows.device)
    for g in range(k.shape[0]):
        kg, vg, bg = k[g].double(), v[g].double(), beta[g].double()
        for r, i in enumerate(rows.tolist()):
            if kept is None:
                order = torch.sort(bg[:i + 1], descending=True, stable=True).indices
                keys = order[:min(window, i + 1)]
            else:
                keys = kept(g, i)
            scores = q_rows[g * group:(g + 1) * group, r].double() @ kg[keys].T * d ** -0.5 + bg[keys]
            out[g * group:(g + 1) * group, r] = scores.softmax(-1) @ vg[keys]
    return out


def worst_relative_error(out, expected):
    """max over (head, row) of |out − ref| / |ref|, and whether anything is NaN."""
    diff = (out.double() - expected).norm(dim=-1) / expected.norm(dim=-1).clamp_min(1e-30)
    return float(diff.max()), bool(torch.isnan(out).any())


def read_safetensors(path):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    dtypes = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32, "I64": torch.int64}
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = dtypes[entry["dtype"]]
        count = (end - begin) // torch.empty(0, dtype=dtype).element_size()
        start = 8 + size + begin  # sliced into its own (aligned) buffer: offsets need not be multiples of 8
        tensors[name] = torch.frombuffer(data[start:start + (end - begin)], dtype=dtype, count=count).reshape(entry["shape"])
    return tensors, header.get("__metadata__", {})


def check_our_output(path, window):
    t, meta = read_safetensors(path)
    on = lambda name: t[name][0].cuda()  # batch 1
    expected = reference_rows(on("q_rows"), on("k"), on("v"), on("beta"), t["rows"], window)
    error, nan = worst_relative_error(on("out_rows"), expected)
    return {"check_rows": len(t["rows"]), "check_last_row": int(t["rows"][-1]), "check_relative_error": error,
            "check_nan": nan, "check_ok": (not nan) and error <= CHECK_TOLERANCE, "check_tie_rule": meta.get("tie_rule")}


def fsa_times(L, w, Hq, Hkv, d, repeats):
    """flash-sparse-attn's Triton kernel fed as its benchmark feeds its CUDA kernel (see the module docstring)."""
    from flash_sparse_attn.flash_sparse_attn_triton import triton_sparse_attn_func
    from flash_sparse_attn.utils.mask import create_mask
    gen = torch.Generator(device="cuda").manual_seed(1)
    q = torch.randn(1, L, Hq, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    k = torch.randn(1, L, Hkv, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    v = torch.randn(1, L, Hkv, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    bias = torch.randn(1, Hkv, 1, L, device="cuda", dtype=torch.bfloat16, generator=gen)  # as its benchmark
    positions = torch.arange(L, device="cuda")
    causal = (positions <= positions.reshape(-1, 1))[None, None]  # [1, 1, L, L], as its benchmark

    def build_mask():  # [1, Hkv, L, L] bool: per kv head and row, the w largest causal biases
        return create_mask(attention_bias=bias, attention_mask=causal, batch_size=1, query_len=L, key_len=L,
                           window_size=w, min_dtype=torch.finfo(torch.bfloat16).min, type="topk")

    times = {"fsa_mask_build_ms": median_ms(build_mask, 1, min(repeats, 5))}
    mask = build_mask()
    run = lambda: triton_sparse_attn_func(q, k, v, attn_mask=mask, attn_bias=bias, is_causal=True,
                                          softmax_scale=d ** -0.5)
    run()  # Triton's autotuning happens here, outside any capture
    eager_and_graph("fsa_triton", run, times, 3, repeats)
    rows = torch.tensor(sorted({(n + 1) * L // CHECK_ROWS - 1 for n in range(CHECK_ROWS)}))
    out = run()[0, rows.cuda()].transpose(0, 1)  # [Hq, n, d]
    kv = lambda x: x[0].transpose(0, 1)  # [Hkv, L, d]
    expected = reference_rows(q[0, rows.cuda()].transpose(0, 1), kv(k), kv(v), bias[0, :, 0], rows, w,
                              kept=lambda g, i: mask[0, g, i, :i + 1].nonzero().squeeze(1))
    times["fsa_relative_error"], _ = worst_relative_error(out, expected)
    del q, k, v, bias, causal, mask
    torch.cuda.empty_cache()
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--quick", action="store_true", help="the three target rows only (32K 2/1 d64, 32K and 128K 32/8)")
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "peers.json"))
    ap.add_argument("--fsa", help="a flash-sparse-attn copy: also time its Triton kernel on the 2/1, d 64 rows")
    ap.add_argument("--max-len", type=int, help="leave out the rows longer than this")
    a = ap.parse_args()
    if a.fsa:
        sys.path.insert(0, a.fsa)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python3 tools/bench_peers.py " + " ".join(sys.argv[1:])
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, {date}")
    print(f"# {command}")
    print("# ms: CUDA-event medians. DMA = ours incl. mask build, one CUDA graph; 'e' eager call, 'g' CUDA-graph replay;"
          " ratios = peer graph / DMA")
    scratch = tempfile.mkdtemp(prefix="bench_peers_")
    rows = []
    shapes = [s for s in (QUICK if a.quick else TARGETS + SPREAD) if a.max_len is None or s[0] <= a.max_len]
    print(f"{'L':>7} {'w':>6} {'heads':>6} {'d':>4} {'bias':>9} | {'mask':>6} {'DMA':>8} {'ours':>8} | "
          f"{'flash e':>8} {'flash g':>8} {'cuDNN e':>8} {'cuDNN g':>8} {'flex e':>8} {'flex g':>8} | "
          f"{'cuDNN/DMA':>9} {'flash/DMA':>9} {'flex/DMA':>9} | check")
    peer_cache = {}
    for L, w, Hq, Hkv, d, bias in shapes:
        repeats = 20 if L * L * Hq * d < 2 ** 40 else 5
        cmd = [a.cli, "bench", "--backend", "cuda", "--len", str(L), "--window", str(w), "--heads", f"{Hq}/{Hkv}",
               "--dim", str(d), "--bias", bias, "--repeats", str(repeats), "--json"]
        checked = bias == "random" and L >= CHECK_MIN_LEN and w < L
        output_file = os.path.join(scratch, "row.safetensors")
        extra = ["--save-output", output_file, "--save-rows", str(CHECK_ROWS), "--force"] if checked else []
        ours = json.loads(subprocess.run(cmd + extra, check=True, capture_output=True, text=True).stdout)
        key = (L, Hq, Hkv, d)
        if key not in peer_cache:
            peer_cache[key] = peer_times(L, Hq, Hkv, d, repeats)
        row = dict(ours, **peer_cache[key], command=" ".join(cmd[1:] + extra[:1] + extra[2:4]))
        if checked:
            row.update(check_our_output(output_file, w))
            os.remove(output_file)
        if a.fsa and (Hq, Hkv, d, bias) == (2, 1, 64, "random") and w < L:
            try:
                row.update(fsa_times(L, w, Hq, Hkv, d, repeats))
            except Exception as error:
                print(f"  fsa: {type(error).__name__}: {str(error)[:200]}", file=sys.stderr)
        rows.append(row)
        fmt = lambda x: f"{x:8.3f}" if x is not None else "       -"
        ratio = lambda x, y: f"{x / y:8.2f}x" if x and y else "        -"
        check = (f"{'ok' if row['check_ok'] else 'FAILED'} ({row['check_rows']} rows to {row['check_last_row']}, "
                 f"rel. error {row['check_relative_error']:.1e}{', NaN' if row['check_nan'] else ''})"
                 if checked else "-")
        print(f"{L:>7} {w:>6} {Hq:>3}/{Hkv:<2} {d:>4} {bias:>9} | {ours['mask_build_ms']:6.3f} {fmt(ours['dma_ms'])} "
              f"{fmt(ours['dense_ms'])} | {fmt(row['sdpa_flash_eager_ms'])} {fmt(row['sdpa_flash_graph_ms'])} "
              f"{fmt(row['sdpa_cudnn_eager_ms'])} {fmt(row['sdpa_cudnn_graph_ms'])} "
              f"{fmt(row['flex_causal_eager_ms'])} {fmt(row['flex_causal_graph_ms'])} | "
              f"{ratio(row['sdpa_cudnn_graph_ms'], ours['dma_ms'])} {ratio(row['sdpa_flash_graph_ms'], ours['dma_ms'])} "
              f"{ratio(row['flex_causal_graph_ms'], ours['dma_ms'])} | {check}", flush=True)
        if row.get("fsa_triton_graph_ms") or row.get("fsa_triton_eager_ms"):
            best = min(x for x in (row.get("fsa_triton_graph_ms"), row.get("fsa_triton_eager_ms")) if x)
            print(f"{'':>7} flash-sparse-attn Triton, fed [B,Hkv,1,L] β, native GQA, mask per kv head: eager "
                  f"{fmt(row.get('fsa_triton_eager_ms')).strip()} ms, graph {fmt(row.get('fsa_triton_graph_ms')).strip()}"
                  f" ms (its create_mask top-k build {row['fsa_mask_build_ms']:.3f} ms more; rel. error "
                  f"{row['fsa_relative_error']:.1e}): FSA best/DMA {best / ours['dma_ms']:.1f}x, (FSA + its mask)/DMA "
                  f"{(best + row['fsa_mask_build_ms']) / ours['dma_ms']:.1f}x", flush=True)
        meta = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "date": date, "command": command,
                "check_tolerance": CHECK_TOLERANCE, "rows": rows}
        with open(a.out, "w") as f:  # after every row: a run cut short keeps what it measured
            json.dump(meta, f, indent=1)
    print("wrote", a.out)
    failed = [r for r in rows if r.get("check_ok") is False]
    if failed:
        print(f"OUTPUT CHECK FAILED on {len(failed)} row(s)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
