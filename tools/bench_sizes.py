"""The README's size table: tokens/s of `dmascope-cli forward` for each Doge preset, on the GPU in bf16 and fp32 and
on the CPU in fp32.

For each preset it writes a random checkpoint (`make-model --preset P`, the preset's own keep_window_size), then for
each length runs `forward --random L --repeat R --quiet` and converts the median it prints into tokens/s: on the GPU
the device time (CUDA events; the bf16 forward is one replayed CUDA graph, the fp32 one synchronizes per layer), on
the CPU the wall time of the forward with every core. A run that does not fit in memory is reported as OOM.

Usage: python3 tools/bench_sizes.py --cli PATH [--presets doge-20m,doge-60m,doge-160m,doge-320m]
                                    [--gpu-lengths 2048,8192,32768] [--cpu-lengths 2048,8192] [--repeats 10]
                                    [--gpu-precisions bf16,fp32]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile


def forward_ms(cli, model_dir, backend, precision, length, repeats):
    """Median ms our forward prints (device time on the GPU, wall time on the CPU), or "OOM"/"error"."""
    command = [cli, "forward", "--model", model_dir, "--backend", backend, "--random", str(length), "--repeat",
               str(repeats), "--quiet"]
    if backend == "cuda":
        command += ["--precision", precision]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        print(f"{os.path.basename(model_dir)} {backend} {precision} L={length}: {run.stderr.strip()}", file=sys.stderr)
        return "OOM" if "memory" in run.stderr else "error"
    pattern = r"GPU ([0-9.]+) ms median" if backend == "cuda" else r"forward ([0-9.]+) ms median"
    match = re.search(pattern, run.stdout)
    if not match:
        sys.exit(f"unexpected output of {' '.join(command)}:\n{run.stdout}")
    return float(match.group(1))


def tokens_per_second(length, ms):
    return ms if isinstance(ms, str) else f"{length / (ms / 1000.0):,.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", required=True)
    parser.add_argument("--presets", default="doge-20m,doge-60m,doge-160m,doge-320m")
    parser.add_argument("--gpu-lengths", default="2048,8192,32768")
    parser.add_argument("--cpu-lengths", default="2048,8192")
    parser.add_argument("--gpu-precisions", default="bf16,fp32", help="the GPU columns to run")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cpu-repeats", type=int, default=1)
    parser.add_argument("--work", help="folder for the checkpoints (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="bench_sizes_")
    gpu_lengths = [int(x) for x in args.gpu_lengths.split(",") if x]
    cpu_lengths = [int(x) for x in args.cpu_lengths.split(",") if x]
    print(f"tokens/s of `dmascope-cli forward --random L`, batch 1; GPU: median device time of {args.repeats} runs; "
          f"CPU: median wall time of {args.cpu_repeats} run(s), {os.cpu_count()} cores")
    precisions = [x for x in args.gpu_precisions.split(",") if x]
    columns = [f"GPU {precision} {length // 1024}K" for precision in precisions for length in gpu_lengths] + \
              [f"CPU fp32 {length // 1024}K" for length in cpu_lengths]
    print("| preset | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for preset in args.presets.split(","):
        model_dir = os.path.join(work, preset)
        subprocess.run([args.cli, "make-model", "--preset", preset, "--out", model_dir, "--force"], check=True,
                       capture_output=True)
        cells = []
        for precision in precisions:
            for length in gpu_lengths:
                cells.append(tokens_per_second(length, forward_ms(args.cli, model_dir, "cuda", precision, length,
                                                                  args.repeats)))
        for length in cpu_lengths:
            cells.append(tokens_per_second(length, forward_ms(args.cli, model_dir, "cpu", "fp32", length,
                                                              args.cpu_repeats)))
        print(f"| {preset} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
