"""PyTorch side of bench/run.py: the same char-LM work seqtask's Go
benchmarks do (tasks/bench_test.go), printed as one JSON line.

Usage: torch_charlm.py WORK CELL THREADS
  WORK  train   Adam training steps, vocab 65, embed 64, hidden 256, seq 64, batch 32
        sample  sampling at batch 1, one step per call (multinomial, temperature 1)
"""
import json
import sys
import time

import torch
import torch.nn as nn

VOCAB, EMBED, HIDDEN, SEQ, BATCH = 65, 64, 256, 64, 32


class CharLM(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](EMBED, HIDDEN)
        self.head = nn.Linear(HIDDEN, VOCAB)

    def forward(self, ids, state=None):
        y, state = self.rnn(self.embedding(ids), state)
        return self.head(y), state


def train(cell, steps=30, warmup=5):
    torch.manual_seed(1)
    model = CharLM(cell)
    opt = torch.optim.Adam(model.parameters(), lr=0.002)
    data = torch.randint(0, VOCAB, (200_000,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        offs = torch.randint(0, len(data) - SEQ - 1, (BATCH,))
        x = torch.stack([data[o:o + SEQ] for o in offs], 1)
        y = torch.stack([data[o + 1:o + SEQ + 1] for o in offs], 1)
        opt.zero_grad()
        logits, _ = model(x)
        loss = loss_fn(logits.reshape(-1, VOCAB), y.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5)
        opt.step()

    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * SEQ * BATCH / (time.perf_counter() - t), "tokens/s"


@torch.no_grad()
def sample(cell, length=2000):
    torch.manual_seed(1)
    model = CharLM(cell).eval()
    x = torch.zeros(1, 1, dtype=torch.long)
    state = None
    for _ in range(50):
        logits, state = model(x, state)
    t = time.perf_counter()
    for _ in range(length):
        logits, state = model(x, state)
        probs = torch.softmax(logits[0, 0], -1)
        x = torch.multinomial(probs, 1).view(1, 1)
    return length / (time.perf_counter() - t), "chars/s"


if __name__ == "__main__":
    work, cell, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    rate, unit = {"train": train, "sample": sample}[work](cell)
    print(json.dumps({"rate": rate, "unit": unit, "torch": torch.__version__}))
