"""Times dmascope's CUDA kernels and their peers on the same GPU in one run, and prints the ratios.

Runs on the GPU machine (torch 2.11). For each shape it calls `dmascope-cli bench --backend cuda --json` (DMA with the
mask build included, our dense kernel, the materialized cuBLAS baseline) and, in this process, torch's dense causal
attention through SDPA's flash and cuDNN backends (K/V expanded to the query heads outside the timed region, since the
cuDNN backend has no GQA), plus FlexAttention with a 128×128 causal block mask. Peers are timed like our CLI times
itself: CUDA events, warm-up, median of repeats.

Usage: python3 tools/bench_peers.py --cli PATH [--quick] [--out FILE.json]
"""
import argparse
import json
import os
import subprocess
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

# (L, w, Hq, Hkv, d, bias): issue #3's target rows first, then a spread over L and w.
TARGETS = [(32768, 1024, 2, 1, 64, "random"), (32768, 1024, 2, 1, 64, "clustered"),
           (32768, 2048, 32, 8, 128, "random"), (32768, 32768, 2, 1, 64, "random"),
           (16384, 16384, 32, 8, 128, "random"), (131072, 2048, 32, 8, 128, "random")]
SPREAD = [(L, w, 2, 1, 64, "random") for L in (4096, 16384, 65536) for w in (256, 4096)] + \
         [(8192, 1024, 32, 8, 64, "random"), (65536, 1024, 32, 8, 128, "random")]


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


def peer_times(L, Hq, Hkv, d, repeats):
    gen = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(1, Hq, L, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    k = torch.randn(1, Hkv, L, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    v = torch.randn(1, Hkv, L, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    ke, ve = k.repeat_interleave(Hq // Hkv, 1), v.repeat_interleave(Hq // Hkv, 1)
    times = {}
    for name, backend in (("sdpa_flash_ms", SDPBackend.FLASH_ATTENTION), ("sdpa_cudnn_ms", SDPBackend.CUDNN_ATTENTION)):
        try:
            with sdpa_kernel(backend):
                times[name] = median_ms(lambda: F.scaled_dot_product_attention(q, ke, ve, is_causal=True), 5, repeats)
        except Exception as error:  # a backend that refuses the shape is reported, not fatal
            times[name] = None
            print(f"  {name}: {type(error).__name__}: {str(error)[:120]}", file=sys.stderr)
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
        block_mask = create_block_mask(lambda b, h, qi, ki: ki <= qi, 1, 1, L, L, device="cuda")
        flex = torch.compile(flex_attention)
        times["flex_causal_ms"] = median_ms(lambda: flex(q, ke, ve, block_mask=block_mask), 3, repeats)
    except Exception as error:
        times["flex_causal_ms"] = None
        print(f"  flex: {type(error).__name__}: {str(error)[:120]}", file=sys.stderr)
    del q, k, v, ke, ve
    torch.cuda.empty_cache()
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--quick", action="store_true", help="the target rows only")
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "peers.json"))
    a = ap.parse_args()
    rows = []
    shapes = TARGETS if a.quick else TARGETS + SPREAD
    print(f"{'L':>7} {'w':>6} {'heads':>6} {'d':>4} {'bias':>9} | {'mask':>7} {'DMA':>8} {'ours':>8} {'flash':>8} "
          f"{'cuDNN':>8} {'flex':>8} | {'cuDNN/DMA':>9} {'flash/DMA':>9} {'flash/ours':>10} {'cuDNN/ours':>10}")
    peer_cache = {}
    for L, w, Hq, Hkv, d, bias in shapes:
        repeats = 20 if L * L * Hq * d < 2 ** 40 else 5
        cmd = [a.cli, "bench", "--backend", "cuda", "--len", str(L), "--window", str(w), "--heads", f"{Hq}/{Hkv}",
               "--dim", str(d), "--bias", bias, "--repeats", str(repeats), "--json"]
        ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        key = (L, Hq, Hkv, d)
        if key not in peer_cache:
            peer_cache[key] = peer_times(L, Hq, Hkv, d, repeats)
        row = dict(ours, **peer_cache[key], command=" ".join(cmd[1:]))
        rows.append(row)
        fmt = lambda x: f"{x:8.3f}" if x is not None else "       -"
        ratio = lambda x, y: f"{x / y:9.2f}x" if x and y else "         -"
        print(f"{L:>7} {w:>6} {Hq:>3}/{Hkv:<2} {d:>4} {bias:>9} | {ours['mask_build_ms']:7.3f} {fmt(ours['dma_ms'])} "
              f"{fmt(ours['dense_ms'])} {fmt(row['sdpa_flash_ms'])} {fmt(row['sdpa_cudnn_ms'])} "
              f"{fmt(row['flex_causal_ms'])} | {ratio(row['sdpa_cudnn_ms'], ours['dma_ms'])} "
              f"{ratio(row['sdpa_flash_ms'], ours['dma_ms'])} {ratio(row['sdpa_flash_ms'], ours['dense_ms']):>10} "
              f"{ratio(row['sdpa_cudnn_ms'], ours['dense_ms']):>10}", flush=True)
    meta = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}
    with open(a.out, "w") as f:
        json.dump(meta, f, indent=1)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
