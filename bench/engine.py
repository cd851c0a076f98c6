"""The bench:engine workloads in Python PyTorch, for the TS/Python comparison (bench/engine-compare.ts).

    /usr/bin/python3 bench/engine.py [--device cpu] [--steps 30] [--warmup 5] [--threads N]
Prints the same JSON line as bench/engine.ts. Exits 3 when torch cannot be imported.
"""
import argparse
import json
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:
    print("bench/engine.py: python torch is not installed", file=sys.stderr)
    sys.exit(3)

ap = argparse.ArgumentParser()
ap.add_argument("--device", default="cpu")
ap.add_argument("--steps", type=int, default=30)
ap.add_argument("--warmup", type=int, default=5)
ap.add_argument("--threads", type=int, default=0)
args = ap.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)
dev = torch.device(args.device)
torch.manual_seed(0)


def conv():
    net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 3, 3, padding=1)).to(dev)
    x = torch.randn(32, 3, 32, 32, device=dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = ((net(x) - x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss.item()
    return step


class Block(nn.Module):
    def __init__(self, d=128, h=4):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        B, L, D = x.shape
        heads = lambda t: t.view(B, L, self.h, D // self.h).transpose(1, 2)
        h = self.ln1(x)
        q, k, v = heads(self.q(h)), heads(self.k(h)), heads(self.v(h))
        if hasattr(F, "scaled_dot_product_attention"):
            a = F.scaled_dot_product_attention(q, k, v)
        else:
            a = torch.softmax(q @ k.transpose(-2, -1) / (D // self.h) ** 0.5, -1) @ v
        x1 = x + self.out(a.transpose(1, 2).reshape(B, L, D))
        return x1 + self.fc2(F.gelu(self.fc1(self.ln2(x1))))


def attn():
    net = Block().to(dev)
    x = torch.randn(64, 64, 128, device=dev)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = (net(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def mlp():
    net = nn.Sequential(nn.Linear(1536, 512), nn.ReLU(), nn.Linear(512, 1)).to(dev)
    x, y = torch.randn(256, 1536, device=dev), torch.randn(256, 1, device=dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = F.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


cases = {}
for name, make in (("conv", conv), ("attn", attn), ("mlp", mlp)):
    step = make()
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(max(20, args.steps)):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    cases[name] = round(statistics.median(times), 3)
    print(f"{name:5} {cases[name]:9.2f} ms/step (median of {len(times)}, device {args.device})")
print(json.dumps({"libtorch": torch.__version__, "threads": torch.get_num_threads(), "cases": cases}))
