#!/usr/bin/env python3
"""Writes tests/fixtures/data/dam/tiny.json: DAM's stages (arXiv 2506.11104; research/mask-methods.md §2) computed
here from the paper's equations on a tiny attention model, for tests/lab_dam_test.cpp to compare stage by stage.

Pure Python (no numpy), deterministic. The model: 2 layers x 2 heads, head dim 4, three calibration sequences of
which one is shorter than the capture length (right padding). Queries and keys carry a rotary pair (a local band)
and noise; beta favours a few keys (sinks), so that both diagonal and vertical patterns occur.

  dense map    P[i][j] = softmax_{j<=i}(q_i.k_j * scale + beta_j)
  stage 1      A_sum[i][j] += P[i][j] * valid_i * valid_j,  C[i][j] += valid_i * valid_j,  Abar = A_sum / (C + eps)
  stage 2      X = max(Abar, eps), B = (X^lam - 1)/lam, Atilde = B - min over all layers, heads, i, j of B
  stage 3      M = [Atilde >= tau]
  stage 4      gamma_k = |M & P_k| / |P_k| for diagonals {(i, i-r)} and verticals {(i, c): i >= c}; matched: >= mu
  stage 5      extended mask at S > L: M in the top-left L x L; below it the union of the matched patterns

Usage: python3 tools/make_dam_fixture.py [OUT]   (default: tests/fixtures/data/dam/tiny.json)
"""
import json
import math
import os
import random
import sys

LAYERS, HEADS, HEAD_DIM = 2, 2, 4
CAPTURE_LENGTH = 24
LENGTHS = [24, 24, 19]
EXTENDED_LENGTH = 40
LAMBDA, TAU, MU, EPS = 0.5, 0.3, 0.8, 1e-10
SCALE = 0.5
# Entries closer than this to tau would let fp32 rounding in the C++ maps flip the true mask: such a seed is skipped.
THRESHOLD_MARGIN = 2e-3


def make_sequences(rng):
    sequences = []
    for length in LENGTHS:
        seq = {"length": length, "q": [], "k": [], "beta": []}
        for layer in range(LAYERS):
            qs, ks, betas = [], [], []
            for head in range(HEADS):
                theta = 0.35 + 0.4 * head + 0.2 * layer
                amp = 2.5 + layer
                q, k, beta = [], [], []
                for t in range(length):
                    q += [amp * math.cos(theta * t), amp * math.sin(theta * t),
                          rng.gauss(0, 1.5), rng.gauss(0, 1.5)]
                    k += [amp * math.cos(theta * t), amp * math.sin(theta * t),
                          rng.gauss(0, 1.5), rng.gauss(0, 1.5)]
                    beta.append(3.0 if t in (0, 5) and head == layer else rng.uniform(0, 1))
                qs.append([float_round(x) for x in q])
                ks.append([float_round(x) for x in k])
                betas.append([float_round(x) for x in beta])
            seq["q"].append(qs)
            seq["k"].append(ks)
            seq["beta"].append(betas)
        sequences.append(seq)
    return sequences


def float_round(x):
    # Values exactly representable in fp32 with few bits, so that C++ reads the same numbers.
    return round(x * 64) / 64


def dense_map(q, k, beta, n):
    probs = [[0.0] * n for _ in range(n)]
    for i in range(n):
        scores = []
        for j in range(i + 1):
            dot = sum(q[i * HEAD_DIM + c] * k[j * HEAD_DIM + c] for c in range(HEAD_DIM))
            scores.append(dot * SCALE + beta[j])
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        for j in range(i + 1):
            probs[i][j] = exps[j] / total
    return probs


def stages(sequences):
    L = CAPTURE_LENGTH
    a_sum = [[[[0.0] * L for _ in range(L)] for _ in range(HEADS)] for _ in range(LAYERS)]
    count = [[0.0] * L for _ in range(L)]
    for seq in sequences:
        n = seq["length"]
        valid = [1 if t < n else 0 for t in range(L)]
        for i in range(L):
            for j in range(L):
                count[i][j] += valid[i] * valid[j]
        for layer in range(LAYERS):
            for head in range(HEADS):
                probs = dense_map(seq["q"][layer][head], seq["k"][layer][head], seq["beta"][layer][head], n)
                for i in range(n):
                    for j in range(n):
                        a_sum[layer][head][i][j] += probs[i][j] * valid[i] * valid[j]
    averaged, transformed = {}, {}
    for layer in range(LAYERS):
        for head in range(HEADS):
            mean = [[a_sum[layer][head][i][j] / (count[i][j] + EPS) for j in range(L)] for i in range(L)]
            averaged[(layer, head)] = mean
            transformed[(layer, head)] = [[(max(x, EPS) ** LAMBDA - 1) / LAMBDA for x in row] for row in mean]
    minimum = min(x for grid in transformed.values() for row in grid for x in row)
    out, closest = [], float("inf")
    for layer in range(LAYERS):
        for head in range(HEADS):
            box_cox = [[x - minimum for x in row] for row in transformed[(layer, head)]]
            closest = min(closest, min(abs(x - TAU) for row in box_cox for x in row))
            mask = [[1 if x >= TAU else 0 for x in row] for row in box_cox]
            diagonal_score, vertical_score = [], []
            for r in range(L):
                cells = [(i, i - r) for i in range(r, L)]
                diagonal_score.append(sum(mask[i][j] for i, j in cells) / len(cells))
            for c in range(L):
                cells = [(i, c) for i in range(c, L)]
                vertical_score.append(sum(mask[i][j] for i, j in cells) / len(cells))
            diagonals = [r for r in range(L) if diagonal_score[r] >= MU]
            verticals = [c for c in range(L) if vertical_score[c] >= MU]
            S = EXTENDED_LENGTH
            extended = [[0] * S for _ in range(S)]
            for i in range(L):
                for j in range(L):
                    extended[i][j] = mask[i][j]
            for r in diagonals:
                for i in range(L, S):
                    extended[i][i - r] = 1
            for c in verticals:
                for i in range(max(c, L), S):
                    extended[i][c] = 1
            out.append({
                "layer": layer, "head": head,
                "averaged": [x for row in averaged[(layer, head)] for x in row],
                "box_cox": [x for row in box_cox for x in row],
                "true_mask": [x for row in mask for x in row],
                "diagonal_score": diagonal_score, "vertical_score": vertical_score,
                "matched_diagonals": diagonals, "matched_verticals": verticals,
                "extended_mask": [x for row in extended for x in row],
            })
    return out, closest


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "data", "dam", "tiny.json")
    for seed in range(100):
        sequences = make_sequences(random.Random(seed))
        heads, closest = stages(sequences)
        if closest > THRESHOLD_MARGIN:
            break
    else:
        sys.exit("no seed below 100 keeps every entry away from tau")
    fixture = {
        "producer": "tools/make_dam_fixture.py",
        "seed": seed,
        "settings": {"capture_length": CAPTURE_LENGTH, "lambda": LAMBDA, "tau": TAU, "mu": MU, "epsilon": EPS,
                     "scale": SCALE, "extended_length": EXTENDED_LENGTH},
        "layers": LAYERS, "heads": HEADS, "head_dim": HEAD_DIM,
        "sequences": sequences,
        "stages": heads,
    }
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, path)
    for h in heads:
        print(f"layer {h['layer']} head {h['head']}: {sum(h['true_mask'])} true-mask cells, diagonals "
              f"{h['matched_diagonals']}, verticals {h['matched_verticals']}")
    print(f"seed {seed}, closest entry to tau {closest:.4f}; wrote {path}")


if __name__ == "__main__":
    main()
