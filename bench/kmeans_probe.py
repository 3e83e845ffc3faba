#!/usr/bin/python3
"""Probe for captioning's encoder (issue 16): do unsupervised k-means
features (Coates & Ng 2011) tell Flickr8k photos apart better than the
CNN that captioning pre-trains from scratch?

The yardstick is captioning's pre-training task: predict which vocabulary
words a photo's five captions use (binary cross-entropy per word, the
vocabulary and preprocessing of configs/captioning-full.yaml). On the dev
photos the image-blind prior scores 0.03848 nats per word (this script
reproduces it) and the CNN's pre-trained head 0.03737 (README, "Image
captioning"). Here a logistic regression is trained on k-means features:
random patches of the training photos, each normalised for contrast and
ZCA-whitened, clustered into K centroids; a photo's feature map is the
triangle activation max(0, mean_k d_k - d_k) of its patches at a stride,
averaged over its four quadrants.

A reference probe run with Debian's PyTorch, never part of seqtask:

    /usr/bin/python3 bench/kmeans_probe.py --k 256 --patch 6 --stride 4

Prints the prior's and the probe's best dev loss for each weight decay.
"""
import argparse
import os
import time
import unicodedata

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def words_of(caption, max_len=20):
    """seqtask's PreprocessCaption: lowercase, apostrophes dropped, other
    punctuation and symbols as spaces, at most max_len words."""
    out = []
    for ch in caption.lower():
        if ch in "'\u2019`":
            continue
        out.append(" " if unicodedata.category(ch)[0] in "PS" else ch)
    return "".join(out).split()[:max_len]


def load(root, size):
    captions = {}
    for line in open(os.path.join(root, "Flickr8k.token.txt"), encoding="utf-8"):
        if "\t" in line:
            key, text = line.rstrip("\n").split("\t")
            captions.setdefault(key.split("#")[0], []).append(words_of(text))
    images = os.path.join(root, f"images_{size}x{size}")

    def split(name):
        names = [l.strip() for l in open(os.path.join(root, name)) if l.strip()]
        return [n for n in names if n in captions and os.path.exists(os.path.join(images, n))]

    train, dev = split("Flickr_8k.trainImages.txt"), split("Flickr_8k.devImages.txt")
    counts = {}
    for n in train:
        for c in captions[n]:
            for w in c:
                counts[w] = counts.get(w, 0) + 1
    vocab = ["<pad>", "<bos>", "<eos>", "<unk>"] + sorted((w for w, k in counts.items() if k >= 5), key=lambda w: -counts[w])
    index = {w: i for i, w in enumerate(vocab)}

    def targets(names):
        y = np.zeros((len(names), len(vocab)), np.float32)
        for i, n in enumerate(names):
            for c in captions[n]:
                for w in c:
                    y[i, index.get(w, 3)] = 1
        return torch.from_numpy(y)

    def pixels(names):
        x = np.stack([np.asarray(Image.open(os.path.join(images, n)).convert("RGB"), np.float32) for n in names])
        return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()

    return pixels(train), targets(train), pixels(dev), targets(dev)


def contrast_normalise(p):
    return (p - p.mean(1, keepdim=True)) / torch.sqrt(p.var(1, unbiased=False, keepdim=True) + 10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/captioning/flickr8k")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--k", type=int, default=256, help="centroids")
    ap.add_argument("--patch", type=int, default=6)
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--patches", type=int, default=400_000, help="training patches for whitening and k-means")
    ap.add_argument("--decay", type=float, nargs="+", default=[1e-5, 3e-5], help="L2 weights of the logistic regression")
    ap.add_argument("--epochs", type=int, default=60)
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    start = time.time()
    xt, yt, xd, yd = load(a.data, a.size)
    prior = yt.mean(0).clamp(1e-7, 1 - 1e-7)
    print(f"{len(xt)} training and {len(xd)} dev photos, {yt.shape[1]} words; "
          f"prior's dev loss {F.binary_cross_entropy(prior.expand_as(yd), yd).item():.5f}", flush=True)

    # Whitening and centroids from random training patches.
    P, K = a.patch, a.k
    g = torch.Generator().manual_seed(0)
    img = torch.randint(len(xt), (a.patches,), generator=g)
    ys, xs = (torch.randint(a.size - P + 1, (a.patches,), generator=g) for _ in range(2))
    patches = torch.stack([xt[i, :, y:y + P, x:x + P].reshape(-1) for i, y, x in zip(img, ys, xs)]).double()
    patches = contrast_normalise(patches)
    mean = patches.mean(0)
    eigval, eigvec = torch.linalg.eigh(torch.cov((patches - mean).T))
    zca = eigvec @ torch.diag(1 / torch.sqrt(eigval + 0.1)) @ eigvec.T
    white = ((patches - mean) @ zca).float()
    mean, zca = mean.float(), zca.float()
    centroids = white[torch.randperm(len(white), generator=g)[:K]].clone()
    for _ in range(15):
        nearest = ((white * white).sum(1, keepdim=True) - 2 * white @ centroids.T + (centroids * centroids).sum(1)).argmin(1)
        sums = torch.zeros_like(centroids).index_add_(0, nearest, white)
        sizes = torch.bincount(nearest, minlength=K).float()
        centroids = torch.where(sizes[:, None] > 0, sums / sizes.clamp(min=1)[:, None], centroids)
    print(f"k-means: {K} centroids of {P}x{P} patches in {time.time() - start:.0f} s", flush=True)

    def features(x):
        out = []
        for lo in range(0, len(x), 50):
            u = F.unfold(x[lo:lo + 50], P, stride=a.stride)  # [B, 3·P·P, L]
            B, _, L = u.shape
            u = (contrast_normalise(u.permute(0, 2, 1).reshape(B * L, -1)) - mean) @ zca
            d = torch.sqrt(((u * u).sum(1, keepdim=True) - 2 * u @ centroids.T + (centroids * centroids).sum(1)).clamp(min=0))
            f = (d.mean(1, keepdim=True) - d).clamp(min=0)
            side = int(L ** 0.5)
            out.append(F.adaptive_avg_pool2d(f.reshape(B, side, side, K).permute(0, 3, 1, 2), 2).reshape(B, -1))
        return torch.cat(out)

    ft, fd = features(xt), features(xd)
    mu, sd = ft.mean(0), ft.std(0) + 1e-3
    ft, fd = (ft - mu) / sd, (fd - mu) / sd
    print(f"features: {ft.shape[1]} per photo, {time.time() - start:.0f} s", flush=True)

    for decay in a.decay:
        head = torch.nn.Linear(ft.shape[1], yt.shape[1])
        with torch.no_grad():
            head.bias.copy_(torch.log(prior / (1 - prior)))
        opt = torch.optim.Adam(head.parameters(), lr=1e-3)
        best = float("inf")
        for _ in range(a.epochs):
            order = torch.randperm(len(ft), generator=g)
            for lo in range(0, len(ft), 128):
                j = order[lo:lo + 128]
                loss = F.binary_cross_entropy_with_logits(head(ft[j]), yt[j]) + decay * (head.weight ** 2).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                best = min(best, F.binary_cross_entropy_with_logits(head(fd), yd).item())
        print(f"K={K} patch={P} stride={a.stride} L2={decay:g}: best dev loss {best:.5f} ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
