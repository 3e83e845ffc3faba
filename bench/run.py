#!/usr/bin/env python3
"""Benchmark seqtask against PyTorch on the same CPU in one run.

Each workload runs as its own process, seqtask and PyTorch alternating,
`--rounds` times; the table keeps each side's best rate and its peak RSS
(from wait4, so it is the process's own high-water mark). PyTorch is tried
at 1 and 2 threads and reported at its best. The table is printed and,
with --write, replaces the results section of bench/README.md.

Usage: /usr/bin/python3 bench/run.py [--rounds 3] [--cores N] [--write] [--only WORK,...]

--cores N (default: all of the machine's) is the core count both sides get:
the Go benchmarks run with GOMAXPROCS N (-test.cpu N; the train.workers rows
then split each step over N copies of the model) and PyTorch is tried at 1,
2, 4, ... threads up to N.
(needs Debian's python3-torch and libopenblas0-pthread, which gives PyTorch
OpenBLAS instead of the reference BLAS; seqtask needs only Go)
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# (label, Go package, Go benchmark, torch work, torch argument, target ratio: the speed issue's)
WORKLOADS = [
    ("char-LM training, RNN", "tasks", "CharLMTrainStep/rnn$", "charlm-train", "rnn", 1.5),
    ("char-LM training, LSTM", "tasks", "CharLMTrainStep/lstm$", "charlm-train", "lstm", 1.5),
    ("char-LM training, GRU", "tasks", "CharLMTrainStep/gru$", "charlm-train", "gru", 1.5),
    ("sampling batch 1, LSTM", "tasks", "CharLMSample/lstm$", "charlm-sample", "lstm", 10.0),
    ("sampling batch 1, GRU", "tasks", "CharLMSample/gru$", "charlm-sample", "gru", 10.0),
    ("sampling batch 1, LSTM, bf16 (seqtask eval.sample.precision, PyTorch CPU autocast)", "tasks", "CharLMSample/lstm-bf16$", "charlm-sample", "lstm-bf16", 10.0),
    ("sampling batch 1, GRU, bf16 (likewise)", "tasks", "CharLMSample/gru-bf16$", "charlm-sample", "gru-bf16", 10.0),
    ("char-LM training, LSTM, bf16 (seqtask train.precision, PyTorch CPU autocast)", "tasks", "CharLMTrainStep/lstm-bf16$", "charlm-train", "lstm-bf16", 1.5),
    ("char-LM training, GRU, bf16 (likewise)", "tasks", "CharLMTrainStep/gru-bf16$", "charlm-train", "gru-bf16", 1.5),
    ("char-LM training, LSTM, train.workers = cores", "tasks", "TrainStepWorkers/charlm-lstm$", "charlm-train", "lstm", 1.5),
    ("char-LM training, GRU, train.workers = cores", "tasks", "TrainStepWorkers/charlm-gru$", "charlm-train", "gru", 1.5),
    ("seq2seq GRU + attention training", "tasks", "Seq2SeqTrainStep/float32$", "seq2seq-train", "-", 1.5),
    ("seq2seq training, bf16 (likewise)", "tasks", "Seq2SeqTrainStep/bf16$", "seq2seq-train", "bf16", 1.5),
    ("seq2seq training, train.workers = cores", "tasks", "TrainStepWorkers/seq2seq$", "seq2seq-train", "-", 1.5),
    ("char-LM training, LSTM, bf16, train.workers = cores (PyTorch CPU autocast)", "tasks", "TrainStepWorkers/charlm-lstm-bf16$", "charlm-train", "lstm-bf16", 1.5),
    ("char-LM training, GRU, bf16, train.workers = cores (likewise)", "tasks", "TrainStepWorkers/charlm-gru-bf16$", "charlm-train", "gru-bf16", 1.5),
    ("seq2seq training, bf16, train.workers = cores (likewise)", "tasks", "TrainStepWorkers/seq2seq-bf16$", "seq2seq-train", "bf16", 1.5),
    ("seq2seq greedy translation", "tasks", "Seq2SeqDecode/greedy$", "seq2seq-greedy", "-", 1.5),
    ("seq2seq beam search, width 5", "tasks", "Seq2SeqDecode/beam$", "seq2seq-beam", "-", 1.5),
    ("seq2seq greedy, bf16 (seqtask eval.decode.precision, PyTorch CPU autocast)", "tasks", "Seq2SeqDecode/greedy-bf16$", "seq2seq-greedy", "bf16", 1.5),
    ("seq2seq beam search, width 5, bf16 (likewise)", "tasks", "Seq2SeqDecode/beam-bf16$", "seq2seq-beam", "bf16", 1.5),
    ("CNN forward+backward", "encoders", "CNN$", "cnn", "-", 1.5),
    ("video CNN+GRU training", "tasks", "VideoTrainStep$", "video-train", "-", 1.5),
    ("video CNN+GRU labelling", "tasks", "VideoLabel$", "video-label", "-", 1.0),
    ("SGEMM 32×1024×256 (h·Wᵀ)", "fastblas", "Sgemm$/32x1024x256_NT$", "gemm", "32x1024x256_NT", 1.0),
    ("SGEMM 256×32×1024 (weight gradient)", "fastblas", "Sgemm$/256x32x1024_TN$", "gemm", "256x32x1024_TN", 1.0),
    ("SGEMM 32×256×1024 (input gradient)", "fastblas", "Sgemm$/32x256x1024_NN$", "gemm", "32x256x1024_NN", 1.0),
]


def measured(cmd, cwd=None, env=None):
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        out = p.stdout.read()
        err = p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err}")
    return out, usage.ru_maxrss / 1024


def go_rate(binary, pkg, bench, cores):
    benchtime = "200ms" if pkg == "fastblas" else "20x"
    out, rss = measured([binary, "-test.run", "^$", "-test.bench", bench, "-test.benchtime", benchtime, "-test.cpu", str(cores)],
                        cwd=os.path.join(ROOT, pkg))
    m = re.search(r"([\d.]+) (tokens/s|chars/s|sentences/s|images/s|frames/s|GFLOP/s)", out)
    if not m:
        sys.exit(f"no rate in Go output:\n{out}")
    return float(m.group(1)), rss


# This machine sets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for old OpenBLAS
# builds; they slow a current one, so PyTorch runs without both. glibc's
# malloc returns a freed block of 128 KiB or more to the kernel at once, and
# PyTorch frees and allocates its step's tensors over and over: on a VM
# where page faults are dear (the Zen 5 one of 2026-12-02: 159k faults, 3.1
# s of system time in a 5.6-s LSTM run) that cost PyTorch 1.8x on the LSTM
# step and 4x on the CNN. PyTorch's performance guide answers it with
# jemalloc or tcmalloc; the same effect without a preloaded library is
# glibc's own tunables, keeping freed memory for reuse.
TORCH_ENV = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
TORCH_ENV["GLIBC_TUNABLES"] = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"


def torch_rate(work, cell, threads):
    out, rss = measured(["/usr/bin/python3", os.path.join(HERE, "torch_bench.py"), work, cell, str(threads)], env=TORCH_ENV)
    r = json.loads(out.strip().splitlines()[-1])
    return r["rate"], rss, r["torch"]


def cpu_description():
    """The CPU's model name and the SIMD flags the kernels choose by, from /proc/cpuinfo."""
    model, flags = "unknown CPU", set()
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile") if f in flags]
    return f"{model}, flags {' '.join(simd) or 'none of avx2/avx512'}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="write the table into bench/README.md")
    ap.add_argument("--only", help="comma-separated torch work names to run (default all)")
    ap.add_argument("--cores", type=int, default=os.cpu_count(), help="cores for both sides (default all)")
    args = ap.parse_args()
    threads_tried = sorted({t for t in (1, 2, 4, 8, 16, 32, 64) if t <= args.cores} | {args.cores})
    binaries = {}
    for pkg in sorted({w[1] for w in WORKLOADS}):
        binaries[pkg] = os.path.join(tempfile.mkdtemp(), pkg + ".test")
        subprocess.run(["go", "test", "-c", "-o", binaries[pkg], "./" + pkg], cwd=ROOT, check=True)
    only = set(args.only.split(",")) if args.only else None
    rows, version = [], "?"
    for label, pkg, bench, work, cell, target in WORKLOADS:
        if only and work not in only:
            continue
        go_best, go_rss, pt_best, pt_rss, pt_threads = 0, 0, 0, 0, 0
        for _ in range(args.rounds):
            rate, rss = go_rate(binaries[pkg], pkg, bench, args.cores)
            if rate > go_best:
                go_best, go_rss = rate, rss
            for threads in threads_tried:
                rate, rss, version = torch_rate(work, cell, threads)
                if rate > pt_best:
                    pt_best, pt_rss, pt_threads = rate, rss, threads
        unit = {"charlm-train": "tokens/s", "charlm-sample": "chars/s", "seq2seq-train": "tokens/s",
                "seq2seq-greedy": "sentences/s", "seq2seq-beam": "sentences/s", "cnn": "images/s", "gemm": "GFLOP/s"}.get(work, "frames/s")
        rows.append((label, unit, go_best, go_rss, pt_best, pt_threads, pt_rss, go_best / pt_best, target))
        print(f"{label}: seqtask {go_best:,.0f} {unit} ({go_rss:.0f} MiB), PyTorch {pt_best:,.0f} ({pt_threads} threads, {pt_rss:.0f} MiB), ratio {go_best / pt_best:.2f}", flush=True)
    table = ["| work | unit | seqtask | peak RSS | PyTorch (best threads) | peak RSS | seqtask / PyTorch | target |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, unit, g, grss, p, pth, prss, ratio, target in rows:
        table.append(f"| {label} | {unit} | {g:,.0f} | {grss:.0f} MiB | {p:,.0f} ({pth}) | {prss:.0f} MiB | {ratio:.2f}× | ≥ {target:g}× |")
    text = "\n".join(table)
    print(text)
    if args.write:
        path = os.path.join(HERE, "README.md")
        readme = open(path).read()
        block = (f"<!-- results -->\nMeasured by `/usr/bin/python3 bench/run.py --rounds {args.rounds} --cores {args.cores} --write` "
                 f"(PyTorch {version}, {args.cores} of the machine's {os.cpu_count()} cores; {cpu_description()}; "
                 f"{time.strftime('%Y-%m-%d')}):\n\n{text}\n<!-- /results -->")
        readme = re.sub(r"<!-- results -->.*<!-- /results -->", block, readme, flags=re.S)
        open(path, "w").write(readme)


if __name__ == "__main__":
    main()
