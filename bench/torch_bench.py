"""PyTorch side of bench/run.py: the same work as seqtask's Go benchmarks
(tasks/bench_test.go, encoders/bench_test.go), printed as one JSON line.

Usage: torch_bench.py WORK ARG THREADS
  charlm-train CELL   Adam steps, vocab 65, embed 64, hidden 256, seq 64, batch 32;
                      CELL-bf16 (e.g. lstm-bf16): forward and loss under CPU autocast
  charlm-sample CELL  sampling at batch 1, one step per call (temperature 1);
                      CELL-bf16 (e.g. lstm-bf16) under CPU autocast
  seq2seq-train -     GRU encoder + GRU decoder with Luong general attention,
                      vocab 3000, embed/hidden 256, length 10, batch 64, teacher forcing
                      ("bf16": forward and loss under CPU autocast)
  seq2seq-greedy -    greedy translation of 64 sentences at once, 12 steps
  seq2seq-beam -      beam search of width 5 over 64 sentences at once, 12 steps
                      (seq2seq-greedy and seq2seq-beam take "bf16": CPU autocast)
  cnn -               conv3x3(16)-relu-pool-conv3x3(32)-relu-pool on 64x64x3, batch 32, fwd+bwd
  video-train -       CNN(16,32)+proj 128 per frame, GRU 128, 5 labels, 8 clips x 20 frames
  video-label -       the same model, forward only
  gemm SHAPE          torch.mm float32 (OpenBLAS) at an m×n×k shape, e.g. 32x1024x256_NT
"""
import contextlib
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def timed(step, n, warmup=3):
    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n


class CharLM(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.embedding = nn.Embedding(65, 64)
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](64, 256)
        self.head = nn.Linear(256, 65)

    def forward(self, ids, state=None):
        y, state = self.rnn(self.embedding(ids), state)
        return self.head(y), state


def charlm_train(arg):
    cell, _, prec = arg.partition("-")  # e.g. lstm, or lstm-bf16 under CPU autocast
    model = CharLM(cell)
    opt = torch.optim.Adam(model.parameters(), lr=0.002)
    data = torch.randint(0, 65, (200_000,))

    def step():
        offs = torch.randint(0, len(data) - 65, (32,))
        x = torch.stack([data[o:o + 64] for o in offs], 1)
        y = torch.stack([data[o + 1:o + 65] for o in offs], 1)
        opt.zero_grad()
        with precision(prec):
            logits, _ = model(x)
            loss = F.cross_entropy(logits.reshape(-1, 65), y.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5)
        opt.step()

    return 64 * 32 / timed(step, 30), "tokens/s"


@torch.no_grad()
def charlm_sample(arg):
    cell, _, prec = arg.partition("-")  # e.g. lstm, or lstm-bf16 under CPU autocast
    with precision(prec):
        return _charlm_sample(cell)


def _charlm_sample(cell):
    model = CharLM(cell).eval()
    x = torch.zeros(1, 1, dtype=torch.long)
    state = None

    def step():
        nonlocal x, state
        logits, state = model(x, state)
        x = torch.multinomial(torch.softmax(logits[0, 0], -1), 1).view(1, 1)

    return 1 / timed(step, 2000, warmup=50), "chars/s"


class Seq2Seq(nn.Module):
    def __init__(self, v=3000, e=256, h=256):
        super().__init__()
        self.src_emb, self.tgt_emb = nn.Embedding(v, e), nn.Embedding(v, e)
        self.enc, self.dec = nn.GRU(e, h), nn.GRU(e, h)
        self.bridge = nn.Linear(h, h)
        self.attn = nn.Linear(h, h, bias=False)  # general: score = q^T W k
        self.combine = nn.Linear(2 * h, h)
        self.out = nn.Linear(h, v)

    def encode(self, src):
        keys, hn = self.enc(self.src_emb(src))            # keys [S][B][H]
        return keys.transpose(0, 1), torch.tanh(self.bridge(hn))

    def attend(self, y, keys):                              # y [B][T][H]
        scores = torch.bmm(y, self.attn(keys).transpose(1, 2))
        ctx = torch.bmm(torch.softmax(scores, -1), keys)
        return torch.tanh(self.combine(torch.cat([ctx, y], -1)))

    def forward(self, src, tgt_in):
        keys, h0 = self.encode(src)
        y, _ = self.dec(self.tgt_emb(tgt_in), h0)
        return self.out(self.attend(y.transpose(0, 1), keys))  # [B][T][V]


def seq2seq_train(arg):
    model = Seq2Seq()
    opt = torch.optim.Adam(model.parameters(), lr=0.001)

    def step():
        src = torch.randint(4, 3000, (10, 64))
        tgt = torch.randint(4, 3000, (12, 64))
        opt.zero_grad()
        with precision(arg):
            logits = model(src, tgt[:-1])
            loss = F.cross_entropy(logits.reshape(-1, 3000), tgt[1:].transpose(0, 1).reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5)
        opt.step()

    return 11 * 64 / timed(step, 20), "tokens/s"


def precision(arg):
    """The context a model runs in: float32, or with arg "bf16" PyTorch's
    CPU autocast to bfloat16 (its counterpart of seqtask's
    eval.decode.precision and train.precision bf16; linear layers in
    bfloat16 via oneDNN)."""
    if arg == "bf16":
        return torch.autocast(device_type="cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def seq2seq_greedy(arg):
    with precision(arg):
        return _seq2seq_greedy()


def _seq2seq_greedy():
    model = Seq2Seq().eval()
    src = torch.randint(4, 3000, (10, 64))

    def step():
        keys, h = model.encode(src)
        tok = torch.ones(1, 64, dtype=torch.long)
        for _ in range(12):
            y, h = model.dec(model.tgt_emb(tok), h)
            tok = model.out(model.attend(y.transpose(0, 1), keys)).argmax(-1).transpose(0, 1)

    return 64 / timed(step, 20), "sentences/s"


@torch.no_grad()
def seq2seq_beam(arg):
    with precision(arg):
        return _seq2seq_beam()


def _seq2seq_beam():
    """Beam search of width 5 over 64 sentences at once, as OpenNMT batches
    it: the 64×5 hypotheses are rows of one decoder batch; each step adds
    every row's log-probabilities to its score, keeps each sentence's best 5
    of its 5×V continuations, and reorders the states to them. A hypothesis
    that emits <eos> (id 3, as in seqtask) is finished: its score is
    frozen and it only continues with <eos>. 12 steps, like seqtask's."""
    model = Seq2Seq().eval()
    src = torch.randint(4, 3000, (10, 64))
    b, k, v, eos = 64, 5, 3000, 3

    def step():
        keys, h = model.encode(src)                        # [B][S][H], [1][B][H]
        keys = keys.repeat_interleave(k, 0)                 # [B*K][S][H]
        h = h.repeat_interleave(k, 1)
        scores = torch.full((b, k), float("-inf"))
        scores[:, 0] = 0                                    # one live hypothesis per sentence at first
        tok = torch.ones(1, b * k, dtype=torch.long)
        done = torch.zeros(b * k, dtype=torch.bool)
        for _ in range(12):
            y, h = model.dec(model.tgt_emb(tok), h)
            logp = F.log_softmax(model.out(model.attend(y.transpose(0, 1), keys)), -1).squeeze(1)  # [B*K][V]
            logp[done] = float("-inf")
            logp[done, eos] = 0                             # finished hypotheses stay as they are
            total = (scores.view(-1, 1) + logp).view(b, k * v)
            scores, idx = total.topk(k, -1)                 # [B][K]
            origin = (idx // v + torch.arange(b).view(-1, 1) * k).view(-1)
            tok = (idx % v).view(1, -1)
            h = h[:, origin]
            done = done[origin] | (tok.view(-1) == eos)

    return 64 / timed(step, 10), "sentences/s"


def cnn_layers(c_in):
    return nn.Sequential(nn.Conv2d(c_in, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


def cnn(_):
    model = cnn_layers(3)
    x = torch.rand(32, 3, 64, 64)
    r = torch.rand(32, 32, 16, 16)

    def step():
        model.zero_grad()
        (model(x) * r).sum().backward()

    return 32 / timed(step, 20), "images/s"


class Video(nn.Module):
    def __init__(self):
        super().__init__()
        self.cnn = cnn_layers(1)
        self.proj = nn.Linear(32 * 16 * 16, 128)
        self.rnn = nn.GRU(128, 128)
        self.head = nn.Linear(128, 5)

    def forward(self, frames):                            # [B][T][1][64][64]
        b, t = frames.shape[:2]
        f = F.relu(self.proj(self.cnn(frames.reshape(b * t, 1, 64, 64)).reshape(b * t, -1)))
        y, _ = self.rnn(f.reshape(b, t, -1).transpose(0, 1))
        return self.head(y)                                # [T][B][5]


def video_train(_):
    model = Video()
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    frames = torch.rand(8, 20, 1, 64, 64)
    labels = torch.randint(0, 5, (20, 8))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(frames).reshape(-1, 5), labels.reshape(-1)).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5)
        opt.step()

    return 160 / timed(step, 10), "frames/s"


@torch.no_grad()
def video_label(_):
    model = Video().eval()
    frames = torch.rand(8, 20, 1, 64, 64)
    return 160 / timed(lambda: model(frames).argmax(-1), 20), "frames/s"


def gemm(shape):
    """torch.mm (OpenBLAS) float32 GFLOP/s at an m×n×k shape like 32x1024x256_NT."""
    dims, trans = shape.split("_")
    m, n, k = map(int, dims.split("x"))
    a = torch.rand(k, m).t() if trans[0] == "T" else torch.rand(m, k)
    b = torch.rand(n, k).t() if trans[1] == "T" else torch.rand(k, n)
    c = torch.empty(m, n)
    return 2 * m * n * k / timed(lambda: torch.mm(a, b, out=c), 200, warmup=20) / 1e9, "GFLOP/s"


WORK = {"gemm": gemm, "charlm-train": charlm_train, "charlm-sample": charlm_sample, "seq2seq-train": seq2seq_train,
        "seq2seq-greedy": seq2seq_greedy, "seq2seq-beam": seq2seq_beam, "cnn": cnn, "video-train": video_train, "video-label": video_label}

if __name__ == "__main__":
    work, arg, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    rate, unit = WORK[work](arg)
    print(json.dumps({"rate": rate, "unit": unit, "torch": torch.__version__}))
