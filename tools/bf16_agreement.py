"""How far transformers' own bf16 Doge forward is from its fp32 forward: the yardstick for our bf16 path's agreement
with the fp32 reference (tests/gpu/doge_forward_bf16_test.cpp prints ours in the same terms).

bf16 β keeps 8 bits of mantissa, so keys whose β differ by less than that tie or swap in each row's top-w, and the
kept sets of the bf16 forward differ from the fp32 forward's; this script measures that in transformers itself, on the
GPU (eager attention; torch's CUDA top-k), for every fixture and bundled model at the lengths and windows the GPU test
uses (3w + 17 tokens at the model's w, 301 tokens at w/2): logits relative error (Frobenius) and top-1 agreement of
bf16 against fp32, and per layer the share of kept (query, key) entries on which the two masks agree.

Usage: python3 tools/bf16_agreement.py [MODEL_DIR ...]   (default: tests/fixtures/data/models/* and assets/models/*)
"""
import glob
import json
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(model_dir, dtype, ids, window):
    """Logits (fp32) and per layer the kept mask [heads, L, L] (bool) of transformers' forward in `dtype`."""
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="eager").cuda().eval()
    masks = []

    def keep_mask(attention, inputs, output):
        # dt_proj's output, then the same steps as DogeAttention.forward and prepare_dynamic_mask, in `dtype`.
        beta = torch.exp(attention.A * torch.nn.functional.softplus(output)).transpose(-1, -2)[0]  # [heads, L]
        L = beta.shape[-1]
        scores = beta[:, None, :].expand(-1, L, -1).clone()
        causal = torch.ones(L, L, dtype=torch.bool, device=beta.device).triu(1)
        scores.masked_fill_(causal, torch.finfo(dtype).min)
        kept = ~causal.expand(beta.shape[0], -1, -1)
        if L > window:
            top = torch.topk(scores, window, dim=-1, largest=True, sorted=False).indices
            kept = torch.zeros_like(kept).scatter(-1, top, True) & kept
        masks.append(kept)

    hooks = []
    for layer in model.model.layers:
        layer.self_attn.keep_window_size = window
        attention = layer.self_attn
        hooks.append(attention.dt_proj.register_forward_hook(
            lambda module, inputs, output, attention=attention: keep_mask(attention, inputs, output)))
    with torch.no_grad():
        logits = model(ids).logits.float()
    for hook in hooks:
        hook.remove()
    del model
    torch.cuda.empty_cache()
    return logits, masks


def compare(model_dir, length, window, seed):
    config = json.load(open(os.path.join(model_dir, "config.json")))
    generator = torch.Generator(device="cpu").manual_seed(seed)
    ids = torch.randint(0, config["vocab_size"], (1, length), generator=generator).cuda()
    logits32, masks32 = run(model_dir, torch.float32, ids, window)
    logits16, masks16 = run(model_dir, torch.bfloat16, ids, window)
    error = (torch.linalg.norm(logits16 - logits32) / torch.linalg.norm(logits32)).item()
    top_one = (logits16.argmax(-1) == logits32.argmax(-1)).float().mean().item()
    agreement = [1.0 - (a ^ b).sum().item() / 2 / b.sum().item() for a, b in zip(masks16, masks32)]
    layers = " ".join(f"{value:.4f}" for value in agreement)
    print(f"{os.path.basename(model_dir)} L {length} w {window}: transformers bf16 vs fp32: logits rel. error "
          f"{error:.4f}, top-1 agreement {top_one:.4f}; kept-mask agreement per layer {layers}", flush=True)


def main():
    dirs = sys.argv[1:] or sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/data/models/*")) +
                                  glob.glob(os.path.join(ROOT, "assets/models/*")))
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"transformers {__import__('transformers').__version__}; eager attention on the GPU")
    seed = 1
    for model_dir in (os.path.normpath(d) for d in dirs if os.path.isdir(d)):
        config = json.load(open(os.path.join(model_dir, "config.json")))
        if config.get("is_moe"):
            print(f"{os.path.basename(model_dir)}: CDMoE, skipped (stock transformers 5.17 cannot run it: its layer feeds "
                  "CDMoE's output tuple to dropout)")
            continue
        window = config["keep_window_size"]
        try:
            compare(model_dir, 3 * window + 17, window, seed)
            compare(model_dir, 301, window // 2, seed + 1)
        except Exception as error:  # e.g. the old-layout fixture, which only our loader reads
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            print(f"{os.path.basename(model_dir)}: transformers cannot run it ({type(error).__name__}: {message[:120]})",
                  flush=True)
        seed += 2


if __name__ == "__main__":
    main()
