"""Times dmascope's CUDA kernels and their peers on the same GPU in one run, and prints the ratios.

Runs on a GPU machine (torch 2.11). For each shape it calls `dmascope-cli bench --backend cuda --json` (DMA with the
mask build included, our dense kernel, the materialized cuBLAS baseline) and, in this process, torch's dense causal
attention through SDPA's flash and cuDNN backends (K/V expanded to the query heads outside the timed region, since the
cuDNN backend has no GQA), plus FlexAttention with a 128×128 causal block mask. Peers are timed like our CLI times
itself: CUDA events, warm-up, median of repeats.

With --fsa DIR (a checkout of flash-algo's flash-dmattn holding its flash_sparse_attn package; not part of dmascope,
installed beside it on the same machine) it also times that project's Triton DMA kernel on the 2/1-head, d 64 rows with
random bias, the way its own benchmark feeds it (benchmarks/forward_performance.py): a dense [B, H, L, L] bias and the
torch top-k mask built from it outside the timed region (that build is timed separately), K/V repeated to the query
heads; its output is checked against a float32 masked-softmax reference on the last 256 query rows.

Usage: python3 tools/bench_peers.py --cli PATH [--quick] [--fsa DIR] [--out FILE.json]
"""
import argparse
import json
import os
import subprocess
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

# (L, w, Hq, Hkv, d, bias): the target rows first (bench/h200/README.md), then a spread over L and w.
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


def fsa_times(L, w, Hq, Hkv, d, repeats):
    """The flash-sparse-attn Triton kernel (flash_sparse_attn must be importable) at one shape, random β per key."""
    from flash_sparse_attn.flash_sparse_attn_triton import triton_sparse_attn_func
    gen = torch.Generator(device="cuda").manual_seed(1)
    q = torch.randn(1, Hq, L, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    k = torch.randn(1, Hkv, L, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    v = torch.randn(1, Hkv, L, d, device="cuda", dtype=torch.bfloat16, generator=gen)
    beta = torch.randn(1, Hkv, 1, L, device="cuda", dtype=torch.float32, generator=gen).to(torch.bfloat16)
    bias = beta.expand(1, Hkv, L, L).repeat_interleave(Hq // Hkv, 1).contiguous()  # as FSA's benchmark: dense
    causal = torch.ones(L, L, device="cuda", dtype=torch.bool).tril_()
    low = torch.finfo(torch.bfloat16).min

    def build_mask():  # FSA's create_mask(type="topk") with a causal mask: per row the w largest causal biases
        masked = bias.masked_fill(~causal, low)
        values, indices = torch.topk(masked, min(w, L), dim=-1, largest=True, sorted=False)
        return torch.zeros_like(masked, dtype=torch.bool).scatter_(-1, indices, values != low)

    times = {"fsa_mask_build_ms": median_ms(build_mask, 1, min(repeats, 5))}
    mask = build_mask()
    qt = q.transpose(1, 2).contiguous()
    kt = k.repeat_interleave(Hq // Hkv, 1).transpose(1, 2).contiguous()
    vt = v.repeat_interleave(Hq // Hkv, 1).transpose(1, 2).contiguous()
    run = lambda: triton_sparse_attn_func(qt, kt, vt, attn_mask=mask, attn_bias=bias, is_causal=True,
                                          softmax_scale=d ** -0.5)
    times["fsa_triton_ms"] = median_ms(run, 3, repeats)
    rows = slice(L - 256, L)  # check: the last 256 rows (w of up to L keys each) against a float32 reference
    out = run()[0, rows].float()
    scores = torch.einsum("hid,hjd->hij", q[0, :, rows].float(), kt[0].transpose(0, 1).float()) * d ** -0.5
    scores = (scores + bias[0, :, rows].float()).masked_fill(~mask[0, :, rows], float("-inf"))
    expected = torch.einsum("hij,hjd->ihd", scores.softmax(-1), vt[0].transpose(0, 1).float())
    times["fsa_relative_error"] = float((out - expected).norm() / expected.norm())
    del q, k, v, bias, causal, mask, qt, kt, vt
    torch.cuda.empty_cache()
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--quick", action="store_true", help="the target rows only")
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "peers.json"))
    ap.add_argument("--fsa", help="a flash-dmattn checkout: also time its Triton kernel on the 2/1, d 64 rows")
    a = ap.parse_args()
    if a.fsa:
        sys.path.insert(0, a.fsa)
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
        if a.fsa and (Hq, Hkv, d, bias) == (2, 1, 64, "random") and w < L:
            try:
                row.update(fsa_times(L, w, Hq, Hkv, d, repeats))
            except Exception as error:
                print(f"  fsa: {type(error).__name__}: {str(error)[:160]}", file=sys.stderr)
        rows.append(row)
        fmt = lambda x: f"{x:8.3f}" if x is not None else "       -"
        ratio = lambda x, y: f"{x / y:9.2f}x" if x and y else "         -"
        print(f"{L:>7} {w:>6} {Hq:>3}/{Hkv:<2} {d:>4} {bias:>9} | {ours['mask_build_ms']:7.3f} {fmt(ours['dma_ms'])} "
              f"{fmt(ours['dense_ms'])} {fmt(row['sdpa_flash_ms'])} {fmt(row['sdpa_cudnn_ms'])} "
              f"{fmt(row['flex_causal_ms'])} | {ratio(row['sdpa_cudnn_ms'], ours['dma_ms'])} "
              f"{ratio(row['sdpa_flash_ms'], ours['dma_ms'])} {ratio(row['sdpa_flash_ms'], ours['dense_ms']):>10} "
              f"{ratio(row['sdpa_cudnn_ms'], ours['dense_ms']):>10}", flush=True)
        if row.get("fsa_triton_ms"):
            print(f"{'':>7} flash-sparse-attn Triton: {row['fsa_triton_ms']:.3f} ms (its torch top-k mask build "
                  f"{row['fsa_mask_build_ms']:.3f} ms more; relative error {row['fsa_relative_error']:.1e}): "
                  f"FSA/DMA {row['fsa_triton_ms'] / ours['dma_ms']:.1f}x, (FSA + its mask)/DMA "
                  f"{(row['fsa_triton_ms'] + row['fsa_mask_build_ms']) / ours['dma_ms']:.1f}x", flush=True)
    meta = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}
    with open(a.out, "w") as f:
        json.dump(meta, f, indent=1)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
