"""Train tiny Doge models on the DMA paper's recall tasks, compare DMA with dense and sliding-window attention, and
export the DMA models in the Hugging Face layout for dmascope to bundle.

Runs on a GPU machine (torch 2.11 + transformers 5.17 + tokenizers). Every model is transformers' own
DogeForCausalLM with eager attention (sdpa is non-causal for Doge in 5.17), trained in bf16 autocast with AdamW on
fixed-length sequences (L = 256 by default; L = 512 was tried first and learned less in the same GPU time, see
bench/toy-recall/README.md). The three attention variants differ only in which keys a query row may
see; the architecture, the data stream, the initial weights and the training budget are the same:

  dma    keep_window_size = w (64): each row keeps the w keys of its causal prefix with the largest β (the top-w mask
         is active on every row past w);
  dense  keep_window_size = L: every causal key (Doge's DMA with nothing dropped, the β bias still added);
  swa    config.sliding_window = w and keep_window_size = L: the last w keys of each row (transformers builds the
         sliding-window causal mask before DMA); if transformers ignores the key, a hook on prepare_dynamic_mask
         applies the same band instead, and the results say which one ran.

Every run first checks the mask it trains with (kept keys per row), so a variant cannot silently be another.

Tasks (one token per word; the vocabulary section below). Answers are scored at `answer_positions`: the logits at
position p must put their argmax on ids[p + 1]; the loss is taken there only. `sources` give the position of the
token each answer copies (what an attention head has to find).

  mqar    <bos> <mqar> f.. k v k v .. (N pairs) then the N keys again, one at a time in random order, each followed
          by its value, scattered among filler:  .. f k_a v_a f f k_b v_b ..   answer: v after each queried k
  needle  <bos> <needle> haystack of filler with 1-4 "k v" pairs hidden in it, then <ask> k v at the end;
          answer: the v of the asked key
  copy    <bos> <copy> f.. <sep> s1 .. sn f.. <sep> s1 .. sn f..   (distinct tokens s, n = 8-32): from the second
          <sep> on each next token of the repeat (induction)

The generator below is the definition of the format: pure Python on a splitmix64 stream seeded per (seed, index), so
that dmascope's C++ port (core/toy/toy_tasks.cpp) produces the very same sequences from the same seed. Training draws from
it too (in DataLoader worker processes), so the models see exactly this format.

MQAR training uses a curriculum over the number of pairs (4..8 first, growing to 4..48 as the training accuracy
allows and by half of the run at the latest; see "MQAR curriculum" in train_one), and an MQAR run first trains on the
copy task until the induction heads exist (see "Copy warm-up"). The run tags "+flat" and "+nowarmup" train without
them, as ablations. Every 1000 steps a probe logs how far the previous-token and lookup heads have formed and what β
looks like.

Usage (on a GPU machine):
  python3 tools/train_toy_doge.py --out out/toy-recall --pack "$OUT"     # the 4 runs of the bundled models at once,
                                                                         # eval, export, tar (about 7 minutes)
  ... --runs dma-mqar,dense-mqar,swa-mqar,dma-mix,dense-mix,swa-mix --jobs 6   # all six (variant × task)
  python3 tools/train_toy_doge.py --smoke --steps 120 --budget 20 --out /tmp/smoke   # the pipeline end to end
  python3 tools/train_toy_doge.py --selftest                              # generator + tokenizer checks, no torch
  python3 tools/train_toy_doge.py --print-example mqar 32 7 0             # one sequence as text, no torch

Outputs under --out: runs/<run>/{model/, log.txt, result.json}; results.json, results.md (the table for
bench/toy-recall/README.md); bundle/<asset name>/ (config.json, model.safetensors, tokenizer.json,
eval_examples.json, sample.txt) for the DMA runs (a tagged run's name ends in -TAG), to be copied to assets/models/.
--pack DIR tars these into DIR.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

# ----------------------------------------------------------------------------------------------------- vocabulary
SPECIALS = ["<bos>", "<eos>", "<pad>", "<unk>", "<mqar>", "<needle>", "<copy>", "<sep>", "<ask>"]
BOS, EOS, PAD, UNK, MQAR, NEEDLE, COPY, SEP, ASK = range(len(SPECIALS))
NUM_KEYS, NUM_VALUES, NUM_FILLERS = 128, 128, 64
FIRST_KEY = len(SPECIALS)               # k0 .. k127
FIRST_VALUE = FIRST_KEY + NUM_KEYS      # v0 .. v127
FIRST_FILLER = FIRST_VALUE + NUM_VALUES  # f0 .. f63
VOCAB_SIZE = FIRST_FILLER + NUM_FILLERS  # 329
TASK_TOKENS = {"mqar": MQAR, "needle": NEEDLE, "copy": COPY}


def token_name(token_id):
    if token_id < FIRST_KEY:
        return SPECIALS[token_id]
    if token_id < FIRST_VALUE:
        return f"k{token_id - FIRST_KEY}"
    if token_id < FIRST_FILLER:
        return f"v{token_id - FIRST_VALUE}"
    if token_id < VOCAB_SIZE:
        return f"f{token_id - FIRST_FILLER}"
    raise ValueError(f"token id {token_id} is outside the toy vocabulary (0..{VOCAB_SIZE - 1})")


def ids_to_text(ids):
    return " ".join(token_name(i) for i in ids)


def vocabulary_summary():
    return {"size": VOCAB_SIZE, "specials": SPECIALS, "first_key": FIRST_KEY, "keys": NUM_KEYS,
            "first_value": FIRST_VALUE, "values": NUM_VALUES, "first_filler": FIRST_FILLER, "fillers": NUM_FILLERS}


def tokenizer_json():
    """A BPE model with no merges whose vocabulary is the whole words ("k12", "v7", "<sep>"): WhitespaceSplit cuts the
    text at whitespace and ignore_merges maps each word straight to its id; an unknown word becomes one <unk>. The
    post-processor puts <bos> in front (add_special_tokens), as the training sequences begin."""
    vocab = {token_name(i): i for i in range(VOCAB_SIZE)}
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, s in enumerate(SPECIALS)]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [BOS], "tokens": ["<bos>"]}}},
        "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": False, "ignore_merges": True,
                  "vocab": vocab, "merges": []},
    }


# ----------------------------------------------------------------------------------------------------- generator
MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def _finalize(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def _mix(x):
    return _finalize((x + GOLDEN) & MASK64)


class SplitMix64:
    """splitmix64 started at mix(mix(seed) ^ index): one independent stream per example. below(n) = next % n."""

    def __init__(self, seed, index):
        self.state = _mix(_mix(seed & MASK64) ^ (index & MASK64))

    def next(self):
        self.state = (self.state + GOLDEN) & MASK64
        return _finalize(self.state)

    def below(self, n):
        return self.next() % n


def sample_distinct(rng, n, k):
    """k distinct numbers from 0..n-1 in random order: the first k steps of a Fisher-Yates shuffle of 0..n-1."""
    pool = list(range(n))
    for i in range(k):
        j = i + rng.below(n - i)
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:k]


def _arrange(rng, items, fillers):
    """Which of items + fillers consecutive units are the items: a sorted set of `items` unit indices."""
    return sorted(sample_distinct(rng, items + fillers, items))


FILL = -1  # placeholder; filler tokens are drawn last, in position order


def _fill(rng, ids):
    for p, t in enumerate(ids):
        if t == FILL:
            ids[p] = FIRST_FILLER + rng.below(NUM_FILLERS)


DEFAULT_TASK_SETTINGS = {"length": 512, "mqar_pairs_min": 4, "mqar_pairs_max": 48, "needle_pairs_min": 1,
                         "needle_pairs_max": 4, "copy_length_min": 8, "copy_length_max": 32}


def _uniform(rng, lo, hi):
    return lo + rng.below(hi - lo + 1)


def gen_mqar(rng, s):
    L = s["length"]
    n = _uniform(rng, s["mqar_pairs_min"], s["mqar_pairs_max"])
    free = L - 2 - 4 * n  # filler tokens in the whole sequence
    if free < 0:
        raise ValueError(f"mqar: {n} pairs do not fit in {L} tokens")
    prefix = rng.below(min(free, L // 4) + 1)
    keys = sample_distinct(rng, NUM_KEYS, n)
    values = [rng.below(NUM_VALUES) for _ in range(n)]
    ids = [BOS, MQAR] + [FILL] * prefix
    value_position = []
    for k, v in zip(keys, values):
        ids += [FIRST_KEY + k, FIRST_VALUE + v]
        value_position.append(len(ids) - 1)
    order = sample_distinct(rng, n, n)  # the pair each query asks, in sequence order
    rest = free - prefix
    query_units = _arrange(rng, n, rest)
    positions, answers, sources = [], [], []
    q = 0
    for unit in range(n + rest):
        if q < n and unit == query_units[q]:
            pair = order[q]
            positions.append(len(ids))
            answers.append(FIRST_VALUE + values[pair])
            sources.append(value_position[pair])
            ids += [FIRST_KEY + keys[pair], FIRST_VALUE + values[pair]]
            q += 1
        else:
            ids.append(FILL)
    _fill(rng, ids)
    return ids, positions, answers, sources


def gen_needle(rng, s):
    L = s["length"]
    m = _uniform(rng, s["needle_pairs_min"], s["needle_pairs_max"])
    hay = L - 5  # between <needle> and the closing "<ask> k v"
    if hay < 2 * m:
        raise ValueError(f"needle: {m} pairs do not fit in {L} tokens")
    keys = sample_distinct(rng, NUM_KEYS, m)
    values = [rng.below(NUM_VALUES) for _ in range(m)]
    pair_units = _arrange(rng, m, hay - 2 * m)
    ids = [BOS, NEEDLE]
    value_position = []
    q = 0
    for unit in range(m + hay - 2 * m):
        if q < m and unit == pair_units[q]:
            ids += [FIRST_KEY + keys[q], FIRST_VALUE + values[q]]
            value_position.append(len(ids) - 1)
            q += 1
        else:
            ids.append(FILL)
    asked = rng.below(m)
    ids += [ASK, FIRST_KEY + keys[asked], FIRST_VALUE + values[asked]]
    _fill(rng, ids)
    return ids, [L - 2], [FIRST_VALUE + values[asked]], [value_position[asked]]


def gen_copy(rng, s):
    L = s["length"]
    n = _uniform(rng, s["copy_length_min"], s["copy_length_max"])
    free = L - 4 - 2 * n
    if free < 0 or n < 1:
        raise ValueError(f"copy: a segment of {n} does not fit twice in {L} tokens")
    segment = [FIRST_KEY + x for x in sample_distinct(rng, NUM_KEYS + NUM_VALUES, n)]
    prefix = rng.below(free // 4 + 1)
    gap = rng.below(free - prefix + 1)
    ids = [BOS, COPY] + [FILL] * prefix + [SEP]
    first = len(ids)
    ids += segment + [FILL] * gap
    positions, answers, sources = [len(ids)], [segment[0]], [first]
    ids.append(SEP)
    for t in range(n):
        if t + 1 < n:
            positions.append(len(ids))
            answers.append(segment[t + 1])
            sources.append(first + t + 1)
        ids.append(segment[t])
    ids += [FILL] * (free - prefix - gap)
    _fill(rng, ids)
    return ids, positions, answers, sources


GENERATORS = {"mqar": gen_mqar, "needle": gen_needle, "copy": gen_copy}


def make_example(task, settings, seed, index):
    """One sequence: dict(task, ids, answer_positions, answers, sources). task "mix" draws mqar/needle/copy first."""
    rng = SplitMix64(seed, index)
    if task == "mix":
        task = ("mqar", "needle", "copy")[rng.below(3)]
    ids, positions, answers, sources = GENERATORS[task](rng, settings)
    return {"task": task, "ids": ids, "answer_positions": positions, "answers": answers, "sources": sources}


def check_example(e, settings):
    """The format's invariants (the C++ test checks the same ones)."""
    ids, L = e["ids"], settings["length"]
    assert len(ids) == L and ids[0] == BOS and ids[1] == TASK_TOKENS[e["task"]], e["task"]
    assert all(0 <= t < VOCAB_SIZE for t in ids) and FILL not in ids
    assert len(e["answer_positions"]) == len(e["answers"]) == len(e["sources"]) > 0
    for p, a, src in zip(e["answer_positions"], e["answers"], e["sources"]):
        assert 0 <= src < p < L - 1 and ids[p + 1] == a and ids[src] == a, (e["task"], p, a, src)
    if e["task"] in ("mqar", "needle"):
        for p, src in zip(e["answer_positions"], e["sources"]):
            assert ids[p] == ids[src - 1] and FIRST_KEY <= ids[p] < FIRST_VALUE  # the asked key precedes its value
        keys = [t for t in ids if FIRST_KEY <= t < FIRST_VALUE]
        if e["task"] == "mqar":
            n = len(e["answers"])
            assert len(keys) == 2 * n and len(set(keys)) == n  # each key twice: in its pair and as the query
    else:
        assert ids.count(SEP) == 2 and e["answer_positions"][0] == len(ids) - 1 - ids[::-1].index(SEP)


def selftest():
    s = DEFAULT_TASK_SETTINGS
    counts = {}
    for task in ("mqar", "needle", "copy", "mix"):
        for i in range(300):
            e = make_example(task, s, 5, i)
            check_example(e, s)
            counts[e["task"]] = counts.get(e["task"], 0) + 1
    for n in (4, 16, 32, 48):
        e = make_example("mqar", dict(s, mqar_pairs_min=n, mqar_pairs_max=n), 1, 0)
        check_example(e, s)
        assert len(e["answers"]) == n
    assert make_example("mqar", s, 3, 4) == make_example("mqar", s, 3, 4)
    assert make_example("mqar", s, 3, 4)["ids"] != make_example("mqar", s, 3, 5)["ids"]
    # the tokenizer's vocabulary is the token names; text round trip
    tj = tokenizer_json()
    assert len(tj["model"]["vocab"]) == VOCAB_SIZE and sorted(tj["model"]["vocab"].values()) == list(range(VOCAB_SIZE))
    e = make_example("copy", s, 5, 0)
    words = ids_to_text(e["ids"]).split(" ")
    assert [tj["model"]["vocab"][w] for w in words] == e["ids"]
    t0 = time.time()
    for i in range(200):
        make_example("mix", s, 9, i)
    print(f"selftest ok: {counts}; {1000 * (time.time() - t0) / 200:.2f} ms per example")


# ----------------------------------------------------------------------------------------------------- runs
VARIANTS = ("dma", "dense", "swa")
TRAIN_TASKS = ("mqar", "mix")
BUNDLE_NAMES = {"mqar": "doge-toy-mqar", "mix": "doge-toy-mix"}  # the DMA run of each task is exported
# A run is VARIANT-TASK or VARIANT-TASK+TAG; a tag names a change of the training recipe, for ablations. Its bundle (a
# DMA run's) is the task's name with "-TAG" appended, so that only the untagged runs replace the bundled models.
RECIPE_TAGS = {"": {},
               "flat": {"curriculum_start": 0},  # MQAR pairs 4-48 from the first step, no curriculum
               "nowarmup": {"induction_warmup": 0.0}}  # an MQAR run without the copy warm-up
# Held-out evaluation sets: (name, task, settings overrides, seed). Seeds differ from the training seed, so every
# held-out sequence is new (a repeat would need a 64-bit state collision).
EVAL_SETS = [
    ("mqar16", "mqar", {"mqar_pairs_min": 16, "mqar_pairs_max": 16}, 9016),
    ("mqar32", "mqar", {"mqar_pairs_min": 32, "mqar_pairs_max": 32}, 9032),
    ("mqar48", "mqar", {"mqar_pairs_min": 48, "mqar_pairs_max": 48}, 9048),
    ("needle", "needle", {}, 9100),
    ("copy", "copy", {}, 9200),
]
EVAL_SETS_OF_TASK = {"mqar": ("mqar16", "mqar32", "mqar48"), "mix": ("mqar16", "mqar32", "mqar48", "needle", "copy")}
# which held-out examples go into eval_examples.json (the C++ test replays them): (set, first indices)
EXAMPLES_OF_TASK = {"mqar": [("mqar16", 3), ("mqar32", 4), ("mqar48", 3)],
                    "mix": [("mqar32", 4), ("needle", 4), ("copy", 4)]}
DISTANCE_BUCKETS = [(1, 64), (65, 128), (129, 256), (257, 100000)]


def split_run(run):
    """"dma-mqar+flat" -> ("dma", "mqar", "flat")."""
    base, _, tag = run.partition("+")
    variant, _, task = base.partition("-")
    if variant not in VARIANTS or task not in TRAIN_TASKS or tag not in RECIPE_TAGS:
        raise SystemExit(f"run {run!r}: expected VARIANT-TASK[+TAG], VARIANT in {VARIANTS}, TASK in {TRAIN_TASKS}, "
                         f"TAG in {[t for t in RECIPE_TAGS if t]}")
    return variant, task, tag


def bundle_name(run):
    variant, task, tag = split_run(run)
    if variant != "dma":
        return None
    return BUNDLE_NAMES[task] + (f"-{tag}" if tag else "")


def run_settings(args):
    return dict(DEFAULT_TASK_SETTINGS, length=args.length)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="out/toy-recall")
    p.add_argument("--runs", default="dma-mqar,dense-mqar,swa-mqar,dma-mix",
                   help="comma list of VARIANT-TASK[+TAG], VARIANT in dma/dense/swa, TASK in mqar/mix, TAG in "
                        "flat (no MQAR curriculum), nowarmup (no copy warm-up)")
    p.add_argument("--jobs", type=int, default=4, help="runs trained at once on the one GPU")
    p.add_argument("--length", type=int, default=256)
    p.add_argument("--window", type=int, default=64, help="DMA keep_window_size and the sliding window")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--steps", type=int, default=40000)
    p.add_argument("--budget", type=float, default=360.0, help="seconds of training per run at most (wall clock)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--workers", type=int, default=2, help="data worker processes per run")
    p.add_argument("--seed", type=int, default=1234, help="initial weights (the same for every variant)")
    p.add_argument("--data-seed", type=int, default=1, help="training stream (the same for every variant)")
    p.add_argument("--eval-examples", type=int, default=256, help="held-out sequences per evaluation set")
    p.add_argument("--deadline", type=float, default=410.0, help="seconds for the whole orchestration")
    p.add_argument("--curriculum-start", type=int, default=8,
                   help="MQAR training pairs start at 4..this and grow to 4..48 (0: 4..48 from the first step)")
    p.add_argument("--curriculum-step", type=int, default=8, help="pairs added to the maximum at each advance")
    p.add_argument("--curriculum-threshold", type=float, default=0.8,
                   help="MQAR training accuracy over 50 steps at which the curriculum advances")
    p.add_argument("--curriculum-full-at", type=float, default=0.5,
                   help="share of the (MQAR part of the) run by which the maximum reaches 48 whatever the accuracy")
    p.add_argument("--induction-warmup", type=float, default=0.35,
                   help="MQAR runs train on the copy task first, until its training accuracy over 50 steps reaches "
                        "0.9 or this share of the run has passed (0: no warm-up)")
    p.add_argument("--pack", default=None, help="directory to write the result tarballs into")
    p.add_argument("--smoke", action="store_true", help="small evaluation sets: with --steps, a test of the pipeline")
    p.add_argument("--run", default=None, help=argparse.SUPPRESS)  # internal: train one run in this process
    p.add_argument("--selftest", action="store_true")
    p.add_argument("--print-example", nargs=4, metavar=("TASK", "N", "SEED", "INDEX"))
    a = p.parse_args(argv)
    if a.smoke:
        a.eval_examples = 32
    return a


def model_config_kwargs(a, variant):
    w = a.window if variant == "dma" else a.length
    return dict(vocab_size=VOCAB_SIZE, hidden_size=a.hidden, intermediate_size=2 * a.hidden,
                num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                max_position_embeddings=2048, keep_window_size=w,
                sliding_window=a.window if variant == "swa" else None, tie_word_embeddings=True,
                bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD)


def batch_lists(task, settings, seed, first_index, count):
    ids, targets = [], []
    for i in range(first_index, first_index + count):
        e = make_example(task, settings, seed, i)
        t = [-100] * len(e["ids"])
        for p, ans in zip(e["answer_positions"], e["answers"]):
            t[p] = ans
        ids.append(e["ids"])
        targets.append(t)
    return ids, targets


def train_one(a):
    """One run in this process: build, check the mask, train, save, reload, evaluate, export."""
    import torch
    import torch.nn.functional as F
    import transformers.models.doge.modeling_doge as MD
    from transformers import DogeConfig, DogeForCausalLM

    variant, task, tag = split_run(a.run)
    for key, value in RECIPE_TAGS[tag].items():
        setattr(a, key, value)
    run_dir = os.path.join(a.out, "runs", a.run)
    os.makedirs(run_dir, exist_ok=True)
    log_file = open(os.path.join(run_dir, "log.txt"), "a")

    def log(msg):
        line = f"[{a.run} {time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    dev = "cuda"
    settings = run_settings(a)
    torch.manual_seed(a.seed)
    cfg = DogeConfig(**model_config_kwargs(a, variant))
    model = DogeForCausalLM._from_config(cfg, attn_implementation="eager")
    g = torch.Generator().manual_seed(a.seed + 1)
    with torch.no_grad():  # transformers inits A to 0 (β ≡ 1, every key tied): start from A ~ U(0.5, 1.5) instead
        for layer in model.model.layers:
            layer.self_attn.A.copy_(0.5 + torch.rand(layer.self_attn.A.shape, generator=g))
    model = model.to(dev)
    params = sum(p.numel() for p in model.parameters())

    # ---- the mask each variant trains with, checked on real sequences
    swa_impl = None

    def kept_masks(m, ids):
        kept, orig = {}, MD.DogeAttention.prepare_dynamic_mask

        def capture(self, hidden_states, dt_states, keep_window_size=2048, attention_mask=None):
            out = orig(self, hidden_states, dt_states, keep_window_size, attention_mask)
            kept[self.layer_idx] = out > torch.finfo(out.dtype).min
            return out

        MD.DogeAttention.prepare_dynamic_mask = capture
        try:
            logits = m(input_ids=ids, use_cache=False).logits
        finally:
            MD.DogeAttention.prepare_dynamic_mask = orig
        return logits, kept

    def mask_report(m):
        ids, _ = batch_lists(task, settings, 777, 0, 4)
        with torch.no_grad():
            _, kept = kept_masks(m, torch.tensor(ids, device=dev))
        L = a.length
        rows = torch.arange(L, device=dev)
        band = (rows[None, :] <= rows[:, None]) & (rows[None, :] > rows[:, None] - a.window)
        k0 = kept[0]
        counts = k0.sum(-1)  # [B, Hkv, L]
        return {"kept_last_row": int(counts[..., -1].max()), "kept_first_row": int(counts[..., 0].max()),
                "causal_only": bool((k0 & ~(rows[None, :] <= rows[:, None])).sum() == 0),
                "within_band": bool((k0 & ~band).sum() == 0),
                "counts_min_i1_w": bool((counts == torch.clamp(rows + 1, max=a.window)).all()),
                "counts_i1": bool((counts == rows + 1).all())}

    rep = mask_report(model)
    if variant == "swa":
        swa_impl = "config.sliding_window"
        if not (rep["within_band"] and rep["counts_min_i1_w"]):
            log(f"config.sliding_window did not give a {a.window}-key band ({rep}); using the hook")
            swa_impl = "hook on prepare_dynamic_mask"
            model.config.sliding_window = None
            orig_pdm = MD.DogeAttention.prepare_dynamic_mask
            W = a.window

            def banded(self, hidden_states, dt_states, keep_window_size=2048, attention_mask=None):
                out = orig_pdm(self, hidden_states, dt_states, keep_window_size, attention_mask)
                Lq, Lk = out.shape[-2], out.shape[-1]
                r = torch.arange(Lk - Lq, Lk, device=out.device)[:, None]
                c = torch.arange(Lk, device=out.device)[None, :]
                return out.masked_fill(c <= r - W, torch.finfo(out.dtype).min)

            MD.DogeAttention.prepare_dynamic_mask = banded
            rep = mask_report(model)
        ok = rep["within_band"] and rep["counts_min_i1_w"]
    elif variant == "dma":
        ok = rep["causal_only"] and rep["counts_min_i1_w"]
    else:
        ok = rep["causal_only"] and rep["counts_i1"]
    log(f"params {params}, mask check {'ok' if ok else 'FAILED'}: {rep}"
        + (f", swa via {swa_impl}" if swa_impl else ""))
    if not ok:
        raise SystemExit(f"{a.run}: the attention mask is not the one this variant claims")

    # ---- data: the generator above, in worker processes (fork: they inherit it and never touch CUDA)
    # MQAR curriculum. With N pairs in context a lookup head starts out giving the asked value about 1/N of its
    # attention, so the gradient that builds the previous-token + lookup circuit shrinks like 1/N, while a head that
    # spreads over all values already scores by elimination. Drawing N from 4..48 from the first step, the earlier runs
    # stayed on that plateau. So training starts at 4..curriculum_start pairs and the maximum grows by curriculum_step
    # whenever the MQAR training accuracy over 50 steps reaches curriculum_threshold, and at the latest linearly by
    # progress so that it is 48 at curriculum_full_at of the run. The maximum lives in shared memory: the fork-started
    # data workers read it for every batch they make (they run a dozen batches ahead). Only the number of pairs
    # changes; the format and the held-out sets do not.
    #
    # Copy warm-up (MQAR runs). The first run with the curriculum showed that MQAR alone, at any N, never built the
    # circuit within 12 k steps (the layer-0 previous-token head stayed at ~5 % attention), while the mix run built it
    # from its copy third at about step 4 k and then solved MQAR too: copy (induction) needs the same two heads and
    # gives a signal at every position of the repeat. So an MQAR run first trains on copy until the heads exist
    # (copy training accuracy 0.9 over 50 steps) or induction_warmup of the run has passed, then on MQAR only, with
    # the pairs curriculum from there.
    import multiprocessing
    full_pairs = settings["mqar_pairs_max"]
    curriculum = settings["mqar_pairs_min"] <= a.curriculum_start < full_pairs
    pairs_max = multiprocessing.get_context("fork").RawValue("i", a.curriculum_start if curriculum else full_pairs)
    curriculum_events = []
    warmup = task == "mqar" and a.induction_warmup > 0
    on_own_task = multiprocessing.get_context("fork").RawValue("i", 0 if warmup else 1)  # 0: the copy warm-up
    warmup_end = {"step": 0, "progress": 0.0, "why": None}

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            wid, nw = (info.id, info.num_workers) if info else (0, 1)
            b = wid
            while True:  # batch b holds examples b·B .. b·B+B-1; the loader returns workers' batches in turn
                s = dict(settings, mqar_pairs_max=pairs_max.value)
                ids, tg = batch_lists(task if on_own_task.value else "copy", s, a.data_seed, b * a.batch, a.batch)
                yield torch.tensor(ids, dtype=torch.long), torch.tensor(tg, dtype=torch.long)
                b += nw

    loader = torch.utils.data.DataLoader(Stream(), batch_size=None, num_workers=a.workers, pin_memory=True,
                                         **(dict(prefetch_factor=6, multiprocessing_context="fork")
                                            if a.workers > 0 else {}))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.98), fused=True)
    torch.backends.cuda.matmul.allow_tf32 = True
    import math

    def lr_at(step, progress):  # linear warm-up, cosine to 10%; progress = max(step share, time share)
        return a.lr * min(1.0, (step + 1) / a.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))

    # ---- probe: how far the MQAR circuit has formed (a diagnostic only; it never changes training)
    probe_settings = dict(settings, mqar_pairs_min=16, mqar_pairs_max=16)
    probe_examples = [make_example("mqar", probe_settings, 778, i) for i in range(8)]
    probe_failed = []

    def probe(m):
        """On 8 held-out MQAR-16 sequences, per layer, the best head's mean attention (a) from each kv-block value
        to the key right before it (a previous-token head; layer 0 must have one) and (b) from each query key to the
        value it asks for (the lookup; layer 1 must have one); and the median β of filler, key and value tokens per
        layer and kv head (β = exp(A·softplus(dt)) is added to every kept score: if it varies by much more than the
        q·k scores do, it decides the attention alone)."""
        if probe_failed:
            return None
        ids = torch.tensor([e["ids"] for e in probe_examples], device=dev)
        betas, orig = {}, MD.DogeAttention.prepare_dynamic_mask

        def capture(self, hidden_states, dt_states, keep_window_size=2048, attention_mask=None):
            betas[self.layer_idx] = dt_states.detach().float()
            return orig(self, hidden_states, dt_states, keep_window_size, attention_mask)

        was_training = m.training
        try:
            MD.DogeAttention.prepare_dynamic_mask = capture
            m.eval()
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                attentions = m(input_ids=ids, use_cache=False, output_attentions=True).attentions
            bv = torch.tensor([b for b, e in enumerate(probe_examples) for _ in e["sources"]], device=dev)
            src = torch.tensor([s for e in probe_examples for s in e["sources"]], device=dev)
            ask = torch.tensor([p for e in probe_examples for p in e["answer_positions"]], device=dev)
            out = {"prev_token": [], "lookup": [], "beta_median": []}
            for li, att in enumerate(attentions):  # [B, H, L, L]
                att = att.float()
                out["prev_token"].append(round(att[bv, :, src, src - 1].mean(0).max().item(), 3))  # [n, H] -> best H
                out["lookup"].append(round(att[bv, :, ask, src].mean(0).max().item(), 3))
                beta = betas[li]  # [B, Hkv, L]
                kinds = {"filler": ids >= FIRST_FILLER, "key": (ids >= FIRST_KEY) & (ids < FIRST_VALUE),
                         "value": (ids >= FIRST_VALUE) & (ids < FIRST_FILLER)}
                out["beta_median"].append({k: [round(beta[:, h][sel].median().item(), 3) for h in range(beta.shape[1])]
                                           for k, sel in kinds.items()})
            return out
        except Exception as err:  # noqa: BLE001 - a diagnostic must not end a run
            probe_failed.append(f"{type(err).__name__}: {err}")
            log(f"probe failed, not probing again: {probe_failed[0]}")
            return None
        finally:
            MD.DogeAttention.prepare_dynamic_mask = orig
            m.train(was_training)

    model.train()
    curve, probes = [], []
    step, t0 = 0, time.time()
    it = iter(loader)
    data_wait = 0.0
    mqar_hits = torch.zeros((), device=dev)  # MQAR answers right / seen since the last curriculum check, on the GPU
    mqar_seen = torch.zeros((), device=dev)  # (read every 50 steps only: a read waits for the GPU)
    copy_hits = torch.zeros((), device=dev)  # the same for copy during the warm-up
    copy_seen = torch.zeros((), device=dev)
    last_advance = 0
    diverged_at = None
    while step < a.steps:
        elapsed = time.time() - t0
        if elapsed >= a.budget:
            break
        tw = time.time()
        ids, tgt = next(it)
        data_wait += time.time() - tw
        ids, tgt = ids.to(dev, non_blocking=True), tgt.to(dev, non_blocking=True)
        progress = max(step / a.steps, elapsed / a.budget)
        lr = lr_at(step, progress)
        for group in opt.param_groups:
            group["lr"] = lr
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(input_ids=ids, use_cache=False).logits
        loss = F.cross_entropy(logits.float().view(-1, VOCAB_SIZE), tgt.view(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if not on_own_task.value:
            with torch.no_grad():
                scored = (tgt != -100) & (ids[:, 1:2] == COPY)
                copy_hits += ((logits.argmax(-1) == tgt) & scored).sum()
                copy_seen += scored.sum()
            if step % 50 == 0:
                window_accuracy = (copy_hits / copy_seen.clamp(min=1)).item()
                copy_hits.zero_()
                copy_seen.zero_()
                why = (f"copy accuracy {window_accuracy:.3f}" if window_accuracy >= 0.9 else
                       f"time (copy accuracy {window_accuracy:.3f})" if progress >= a.induction_warmup else None)
                if why:
                    on_own_task.value = 1
                    warmup_end.update(step=step, progress=progress, why=why)
                    last_advance = step  # the first MQAR window still holds copy batches (scored: none)
                    log(f"copy warm-up over at step {step}, by {why}; {task} from here")
        elif curriculum and pairs_max.value < full_pairs:
            with torch.no_grad():
                scored = (tgt != -100) & (ids[:, 1:2] == MQAR)
                mqar_hits += ((logits.argmax(-1) == tgt) & scored).sum()
                mqar_seen += scored.sum()
            if step % 50 == 0:
                window_accuracy = (mqar_hits / mqar_seen.clamp(min=1)).item()
                mqar_hits.zero_()
                mqar_seen.zero_()
                own_progress = (progress - warmup_end["progress"]) / max(1.0 - warmup_end["progress"], 1e-9)
                ramp = min(max((own_progress - 0.1) / max(a.curriculum_full_at - 0.1, 1e-9), 0.0), 1.0)
                floor = a.curriculum_start + int(ramp * (full_pairs - a.curriculum_start))
                new = pairs_max.value
                why = None
                # the first window after an advance still holds batches made before it (the workers run ahead)
                if window_accuracy >= a.curriculum_threshold and step - last_advance >= 100:
                    new, why = new + a.curriculum_step, f"accuracy {window_accuracy:.3f}"
                if floor > new:
                    new, why = floor, f"schedule (accuracy {window_accuracy:.3f})"
                new = min(new, full_pairs)
                if new != pairs_max.value:
                    pairs_max.value = new
                    last_advance = step
                    curriculum_events.append({"step": step, "pairs_max": new, "why": why})
                    log(f"curriculum: MQAR pairs 4..{new} from step {step}, by {why}")
        if step % 100 == 0 or step == a.steps:
            sel = tgt != -100
            acc = (logits.argmax(-1)[sel] == tgt[sel]).float().mean().item()
            curve.append({"step": step, "seconds": round(time.time() - t0, 2), "loss": round(loss.item(), 4),
                          "train_accuracy": round(acc, 4), "lr": lr, "mqar_pairs_max": pairs_max.value,
                          "task": task if on_own_task.value else "copy"})
            if step % 500 == 0 or step == 100:
                log(f"step {step} loss {loss.item():.4f} acc {acc:.3f} lr {lr:.2e} "
                    f"{f'pairs 4..{pairs_max.value}' if on_own_task.value else 'copy warm-up'} "
                    f"{time.time() - t0:.0f}s (data wait {data_wait:.1f}s)")
            if not math.isfinite(curve[-1]["loss"]):  # nothing more to learn; the GPU goes to the other runs
                diverged_at = step
                log(f"stopped: the loss is not finite at step {step} (in the runs that did this, β = exp(A·softplus(dt)) "
                    f"had grown to 1e17..1e20 and overflowed; see the probes)")
                break
        if step % 1000 == 0:
            pr = probe(model)
            if pr is not None:
                probes.append(dict(step=step, **pr))
                log(f"probe: previous-token {pr['prev_token']}, lookup {pr['lookup']}, β medians {pr['beta_median']}")
    torch.cuda.synchronize()
    train_seconds = time.time() - t0
    del it, loader
    log(f"trained {step} steps in {train_seconds:.1f}s ({step / max(train_seconds, 1e-9):.1f} steps/s, "
        f"data wait {data_wait:.1f}s)")
    probe_final = probe(model)
    if probe_final is not None:
        log(f"probe at the end: previous-token {probe_final['prev_token']}, lookup {probe_final['lookup']}, "
            f"β medians {probe_final['beta_median']}")

    # ---- save what we ship, reload it, evaluate it in fp32 (TF32 off: the C++ forward is fp32)
    model_dir = os.path.join(run_dir, "model")
    shutil.rmtree(model_dir, ignore_errors=True)
    model.eval()
    model.float().save_pretrained(model_dir, safe_serialization=True)
    for junk in ("generation_config.json",):
        if os.path.exists(os.path.join(model_dir, junk)):
            os.remove(os.path.join(model_dir, junk))
    with open(os.path.join(model_dir, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(), f, ensure_ascii=False, indent=1)
    del model, opt
    torch.cuda.empty_cache()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    m = DogeForCausalLM.from_pretrained(model_dir, attn_implementation="eager", dtype=torch.float32).to(dev).eval()
    if swa_impl == "config.sliding_window":
        assert m.config.sliding_window == a.window

    sets = {name: (t, dict(settings, **over), seed) for name, t, over, seed in EVAL_SETS}

    @torch.no_grad()
    def evaluate(set_name, window=None, keep_examples=0):
        t, s, seed = sets[set_name]
        if window is not None:
            for layer in m.model.layers:
                layer.self_attn.keep_window_size = window
        examples = [make_example(t, s, seed, i) for i in range(a.eval_examples)]
        correct = total = 0
        buckets = [[0, 0] for _ in DISTANCE_BUCKETS]
        src_kept = [[0, 0] for _ in range(a.layers)]
        kept_examples = []
        for b0 in range(0, len(examples), 32):
            chunk = examples[b0:b0 + 32]
            ids = torch.tensor([e["ids"] for e in chunk], device=dev)
            logits, kept = kept_masks(m, ids)
            for bi, e in enumerate(chunk):
                pos = torch.tensor(e["answer_positions"], device=dev)
                lg = logits[bi, pos]  # [n, V]
                top2 = lg.topk(2, dim=-1)
                pred = top2.indices[:, 0].tolist()
                margin = (top2.values[:, 0] - top2.values[:, 1]).tolist()
                ok = [int(pp == ans) for pp, ans in zip(pred, e["answers"])]
                correct += sum(ok)
                total += len(ok)
                for p, src, o in zip(e["answer_positions"], e["sources"], ok):
                    for k, (lo, hi) in enumerate(DISTANCE_BUCKETS):
                        if lo <= p - src <= hi:
                            buckets[k][0] += o
                            buckets[k][1] += 1
                src = torch.tensor(e["sources"], device=dev)
                for li in range(a.layers):  # was the copied token kept on the answer row, by any kv head?
                    hit = kept[li][bi][:, pos, src].any(0)
                    src_kept[li][0] += int(hit.sum())
                    src_kept[li][1] += len(e["sources"])
                if b0 + bi < keep_examples:
                    kept_examples.append(dict(e, set=set_name, seed=seed, index=b0 + bi, settings=s,
                                              hf_argmax=pred, hf_margin=[round(x, 5) for x in margin]))
        if window is not None:
            for layer in m.model.layers:
                layer.self_attn.keep_window_size = m.config.keep_window_size
        res = {"accuracy": correct / max(total, 1), "answers": total, "sequences": len(examples),
               "by_distance": {f"{lo}-{hi}" if hi < 100000 else f">{lo - 1}": (c / n if n else None)
                               for (lo, hi), (c, n) in zip(DISTANCE_BUCKETS, buckets)},
               "source_kept_rate_per_layer": [c / n if n else None for c, n in src_kept]}
        return res, kept_examples

    results, examples_out = {}, []
    keep_plan = dict(EXAMPLES_OF_TASK[task])
    for set_name in EVAL_SETS_OF_TASK[task]:
        res, kept_ex = evaluate(set_name, keep_examples=keep_plan.get(set_name, 0) if variant == "dma" else 0)
        results[set_name] = res
        examples_out += kept_ex
        log(f"eval {set_name}: accuracy {res['accuracy']:.4f} over {res['answers']} answers; "
            f"by distance {res['by_distance']}; source kept {res['source_kept_rate_per_layer']}")
    dense_eval = {}
    if variant == "dma":  # the same weights with nothing dropped (w = L)
        for set_name in EVAL_SETS_OF_TASK[task]:
            res, _ = evaluate(set_name, window=a.length)
            dense_eval[set_name] = res["accuracy"]
        log(f"eval with w = L: {dense_eval}")

    result = {"run": a.run, "variant": variant, "task": task, "params": params, "steps": step,
              "train_seconds": round(train_seconds, 1), "steps_planned": a.steps, "budget_seconds": a.budget,
              "batch": a.batch, "length": a.length, "window": a.window, "swa_impl": swa_impl, "mask_check": rep,
              "final_loss": curve[-1]["loss"] if curve else None, "eval": results, "eval_dma_model_dense": dense_eval,
              "steps_per_second": round(step / max(train_seconds, 1e-9), 2), "curve": curve,
              "config": model_config_kwargs(a, variant), "lr": a.lr, "data_wait_seconds": round(data_wait, 1),
              "concurrent_runs": a.jobs, "recipe_tag": tag,
              "curriculum": {"on": curriculum, "start_pairs_max": a.curriculum_start if curriculum else full_pairs,
                             "step_pairs": a.curriculum_step, "threshold": a.curriculum_threshold,
                             "full_at": a.curriculum_full_at, "events": curriculum_events},
              "copy_warmup": dict(warmup_end, on=warmup, cap=a.induction_warmup) if warmup else None,
              "probes": probes, "probe_final": probe_final, "diverged_at_step": diverged_at}
    with open(os.path.join(run_dir, "result.json"), "w") as f:
        json.dump(result, f, indent=1)

    if bundle_name(a.run):
        export_bundle(a, model_dir, bundle_name(a.run), result, examples_out, settings)
    log("done")


def export_bundle(a, model_dir, name, result, examples, settings):
    out = os.path.join(a.out, "bundle", name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for f in ("config.json", "model.safetensors", "tokenizer.json"):
        shutil.copy(os.path.join(model_dir, f), out)
    payload = {
        "about": "Held-out sequences of the tasks this model was trained on, with transformers 5.17's greedy answers "
                 "(eager attention, fp32, on the GPU). dmascope's C++ generator must rebuild `ids` from (task, "
                 "settings, seed, index) and its forward must give the same argmax at answer_positions.",
        "generator": "tools/train_toy_doge.py", "model": name, "run": result["run"], "window": a.window,
        "vocabulary": vocabulary_summary(), "training_settings": settings,
        "heldout_accuracy": {k: v["accuracy"] for k, v in result["eval"].items()},
        "examples": examples,
    }
    with open(os.path.join(out, "eval_examples.json"), "w") as f:
        json.dump(payload, f, separators=(",", ":"))
    with open(os.path.join(out, "sample.txt"), "w") as f:  # text of the first example, <bos> left to the tokenizer
        f.write(ids_to_text(examples[0]["ids"][1:]) + "\n")
    print(f"[{result['run']}] tokenizer check: {check_tokenizer(os.path.join(out, 'tokenizer.json'), examples)}",
          flush=True)


def check_tokenizer(path, examples):
    """What we ship must load in the tokenizers library and give the generator's ids (never fatal: it is reported)."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return "not checked: tokenizers is not installed"
    try:
        tok = Tokenizer.from_file(path)
        for e in examples:
            text = ids_to_text(e["ids"][1:])
            if tok.encode(text).ids != e["ids"]:
                return f"FAILED: encode(text) != ids for {e['task']} example {e.get('index')}"
            if tok.encode(text, add_special_tokens=False).ids != e["ids"][1:]:
                return "FAILED: encode(text, add_special_tokens=False) != ids[1:]"
            decoded = tok.decode(e["ids"][1:], skip_special_tokens=False)
            if decoded != text:
                return f"FAILED: decode gives {decoded[:60]!r}..., expected {text[:60]!r}..."
        unknown = tok.encode("k3 hello v5").ids
        if unknown != [BOS, FIRST_KEY + 3, UNK, FIRST_VALUE + 5]:
            return f"FAILED: 'k3 hello v5' gives {unknown}"
        return f"ok (tokenizers: {len(examples)} examples encode to their ids and decode to their text)"
    except Exception as err:  # noqa: BLE001 - a report, not a crash after minutes of training
        return f"FAILED: {type(err).__name__}: {err}"


# ----------------------------------------------------------------------------------------------------- orchestration
def orchestrate(a, argv):
    os.makedirs(a.out, exist_ok=True)
    runs = [r for r in a.runs.split(",") if r]
    cleaned, skip = [], False  # the children get our arguments less "--pack DIR"
    for x in argv:
        if skip:
            skip = False
            continue
        if x == "--pack":
            skip = True
            continue
        if x.startswith("--pack="):
            continue
        cleaned.append(x)
    passthrough = cleaned
    t_start = time.time()
    pending, active, finished = list(runs), {}, {}
    while pending or active:
        while pending and len(active) < a.jobs:
            r = pending.pop(0)
            os.makedirs(os.path.join(a.out, "runs", r), exist_ok=True)
            out = open(os.path.join(a.out, "runs", r, "stdout.txt"), "w")
            cmd = [sys.executable, os.path.abspath(__file__), "--run", r] + passthrough
            active[r] = (subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT), time.time())
            print(f"started {r}", flush=True)
        time.sleep(2)
        for r, (proc, started) in list(active.items()):
            if proc.poll() is not None:
                finished[r] = proc.returncode
                del active[r]
                print(f"finished {r} rc={proc.returncode} after {time.time() - started:.0f}s", flush=True)
                tail = open(os.path.join(a.out, "runs", r, "stdout.txt")).read().splitlines()
                print("\n".join("   " + ln for ln in tail[-4 if proc.returncode == 0 else -25:]), flush=True)
            elif time.time() - t_start > a.deadline:
                proc.kill()
                print(f"killed {r}: past the deadline", flush=True)
        if time.time() - t_start > a.deadline and pending:
            print(f"deadline: not started {pending}", flush=True)
            pending = []
    summarize(a, runs, time.time() - t_start)
    if a.pack:
        pack(a)
    failed = [r for r in runs if finished.get(r) != 0]
    if failed:
        print(f"runs that failed or were cut: {', '.join(failed)}", flush=True)
        sys.exit(1)


def summarize(a, runs, wall):
    import platform
    results = []
    for r in runs:
        p = os.path.join(a.out, "runs", r, "result.json")
        if os.path.exists(p):
            results.append(json.load(open(p)))
    gpu = "?"
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True).stdout.strip().splitlines()[0]
    except Exception:
        pass
    versions = {}
    try:
        import torch
        import transformers
        versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    except ImportError:
        pass
    meta = {"date": time.strftime("%Y-%m-%d"), "gpu": gpu, "python": platform.python_version(), **versions,
            "command": "python3 tools/train_toy_doge.py " + " ".join(sys.argv[1:]), "jobs": a.jobs,
            "wall_seconds": round(wall, 1)}
    json.dump({"meta": meta, "runs": results}, open(os.path.join(a.out, "results.json"), "w"), indent=1)

    def pct(x):
        return "–" if x is None else f"{100 * x:.1f}"

    lines = [f"date {meta['date']} · {gpu} · torch {versions.get('torch', '?')} · transformers "
             f"{versions.get('transformers', '?')} · {a.jobs} runs at a time on the one GPU · wall {wall:.0f} s", "",
             "| run | attention | params | MQAR pairs in training | steps | train s | final loss | MQAR-16 | MQAR-32 |"
             " MQAR-48 | needle | copy | MQAR-32 by distance ≤64 / 65-128 / 129-256 / >256 |"
             " same weights, w = L (MQAR-32) | probe: L0 previous-token / L1 lookup |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    names = {"dma": f"DMA top-{a.window}", "dense": "dense (w ≥ L)", "swa": f"sliding window {a.window}"}
    for r in results:
        ev = r["eval"]
        acc = lambda k: pct(ev[k]["accuracy"]) if k in ev else "–"
        bd = ev.get("mqar32", {}).get("by_distance", {})
        dist = " / ".join(pct(v) for v in bd.values()) if bd else "–"
        same = pct(r["eval_dma_model_dense"].get("mqar32")) if r["eval_dma_model_dense"] else "–"
        cur = r.get("curriculum", {})
        if cur.get("on"):
            full = [e["step"] for e in cur["events"] if e["pairs_max"] >= 48]
            pairs = f"4–{cur['start_pairs_max']} → 4–48 " + (f"at step {full[0]}" if full else "(not reached)")
        else:
            pairs = "4–48"
        wu = r.get("copy_warmup")
        if wu:
            pairs = f"copy to step {wu['step']}, then " + pairs
        pf = r.get("probe_final")
        probe_cell = f"{pf['prev_token'][0]:.2f} / {pf['lookup'][-1]:.2f}" if pf else "–"
        loss = (f"not finite from step ≤ {r['diverged_at_step']}" if r.get("diverged_at_step") else r["final_loss"])
        lines.append(f"| {r['run']} | {names[r['variant']]} | {r['params'] / 1e6:.2f} M | {pairs} | {r['steps']} | "
                     f"{r['train_seconds']:.0f} | {loss} | {acc('mqar16')} | {acc('mqar32')} | "
                     f"{acc('mqar48')} | {acc('needle')} | {acc('copy')} | {dist} | {same} | {probe_cell} |")
    missing = [r for r in runs if r not in {x["run"] for x in results}]
    if missing:
        lines.append("")
        lines.append(f"no result (failed or cut by the deadline): {', '.join(missing)}")
    open(os.path.join(a.out, "results.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


def pack(a):
    os.makedirs(a.pack, exist_ok=True)
    with tarfile.open(os.path.join(a.pack, "results.tgz"), "w:gz") as t:
        for f in ("results.json", "results.md"):
            if os.path.exists(os.path.join(a.out, f)):
                t.add(os.path.join(a.out, f), arcname=f)
        runs_dir = os.path.join(a.out, "runs")
        for r in sorted(os.listdir(runs_dir)) if os.path.isdir(runs_dir) else []:
            for f in ("log.txt", "stdout.txt", "result.json"):
                p = os.path.join(runs_dir, r, f)
                if os.path.exists(p):
                    t.add(p, arcname=f"runs/{r}/{f}")
    bundle = os.path.join(a.out, "bundle")
    for name in sorted(os.listdir(bundle)) if os.path.isdir(bundle) else []:
        with tarfile.open(os.path.join(a.pack, f"{name}.tgz"), "w:gz") as t:
            t.add(os.path.join(bundle, name), arcname=name)
    for f in sorted(os.listdir(a.pack)):
        print(f"packed {f}: {os.path.getsize(os.path.join(a.pack, f)) / 1e6:.2f} MB", flush=True)


def main(argv):
    a = parse_args(argv)
    if a.selftest:
        selftest()
    elif a.print_example:
        task, n, seed, index = a.print_example
        s = dict(DEFAULT_TASK_SETTINGS, length=a.length, mqar_pairs_min=int(n), mqar_pairs_max=int(n))
        e = make_example(task, s, int(seed), int(index))
        print(ids_to_text(e["ids"][1:]))
    elif a.run:
        train_one(a)
    else:
        orchestrate(a, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
