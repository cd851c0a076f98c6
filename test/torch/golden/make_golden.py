"""Makes test/torch/golden/ops.json: inputs and PyTorch outputs for the engine's op tests.

Run with Debian's PyTorch (python3-torch, libtorch 1.13, the same library the addon links):
    /usr/bin/python3 test/torch/golden/make_golden.py
Inputs are stored with the outputs, so the TypeScript tests feed libtorch exactly the same numbers.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
g = torch.Generator().manual_seed(1234)


def r(*shape):
    return torch.randn(*shape, generator=g)


def enc(t):
    t = t.detach()
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    dtype = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64", torch.uint8: "uint8"}[t.dtype]
    return {"shape": list(t.shape), "dtype": dtype, "data": t.flatten().tolist()}


cases = []


def case(name, inputs, out):
    outs = out if isinstance(out, (tuple, list)) else [out]
    cases.append({"name": name, "inputs": {k: enc(v) for k, v in inputs.items()}, "outputs": [enc(o) for o in outs]})


a, b = r(2, 3, 4), r(3, 1)
pos = r(2, 3, 4).abs() + 0.1
case("add_broadcast", {"a": a, "b": b}, a + b.unsqueeze(0).expand(2, 3, 1))
case("mul_div_sub", {"a": a, "pos": pos}, (a * pos - a) / pos)
case("pow_exp_log_sqrt", {"pos": pos}, pos.pow(1.5) + pos.exp() + pos.log() + pos.sqrt())
case("sin_cos", {"a": a}, a.sin() * 2 + a.cos())
case("clamp", {"a": a}, a.clamp(-0.5, 0.7))
case("sum_mean_var", {"a": a}, [a.sum(1), a.mean((0, 2), keepdim=True), a.var(2), a.var(2, unbiased=False)])
case("max_argmax", {"a": a}, [a.max(2).values, a.max(2).indices, a.argmax()])
case("topk_sort", {"a": a}, [a.topk(2, -1).values, a.topk(2, -1).indices, a.sort(1, descending=True).values, a.sort(1, descending=True).indices])
m1, m2 = r(2, 3, 5), r(2, 5, 4)
case("matmul_bmm", {"m1": m1, "m2": m2}, [m1.matmul(m2), torch.bmm(m1, m2), m1[0] @ m2[0]])
case("einsum", {"m1": m1, "m2": m2}, torch.einsum("bij,bjk->bik", m1, m2))
case("shape_ops", {"a": a}, [a.permute(2, 0, 1), a.transpose(0, 2).reshape(4, 6), torch.cat([a, a * 2], 1), torch.stack([a, a], 0),
                              a.split(2, 2)[1], a.chunk(3, 1)[2], a[:, 1:3, ::2], a.repeat(1, 2, 1)])
idx = torch.tensor([2, 0, 1])
case("index_ops", {"a": a, "idx": idx}, [a.index_select(1, idx), a.gather(2, torch.tensor([[[0], [3], [1]], [[2], [2], [0]]])),
                                         torch.where(a > 0, a, -a * 3), a.masked_fill(a < 0, -9.0)])
x, w, bias = r(4, 6), r(5, 6), r(5)
case("linear", {"x": x, "w": w, "bias": bias}, F.linear(x, w, bias))
img, cw, cb = r(2, 4, 8, 8), r(6, 2, 3, 3), r(6)
case("conv2d", {"img": img, "cw": cw, "cb": cb}, F.conv2d(img, cw, cb, stride=2, padding=1, groups=2))
case("interpolate", {"img": img}, [F.interpolate(img, size=(16, 16), mode="nearest"),
                                   F.interpolate(img, size=(12, 12), mode="bilinear", align_corners=False)])
case("avg_pool", {"img": img}, F.avg_pool2d(img, 2))
gw, gb = r(4), r(4)
case("group_norm", {"img": img, "gw": gw, "gb": gb}, F.group_norm(img, 2, gw, gb, 1e-5))
lw, lb = r(6), r(6)
case("layer_norm", {"x": x, "lw": lw, "lb": lb}, F.layer_norm(x, [6], lw, lb, 1e-5))
emb, ids = r(10, 3), torch.tensor([[1, 4], [9, 0]])
case("embedding", {"emb": emb, "ids": ids}, F.embedding(ids, emb))
case("activations", {"a": a}, [F.gelu(a), F.gelu(a, approximate="tanh"), a * torch.sigmoid(1.702 * a), F.silu(a), a.sigmoid(), a.tanh(), a.relu()])
case("softmax", {"a": a}, [a.softmax(-1), a.log_softmax(1)])
logits, target = r(5, 7), torch.tensor([0, 3, 6, 2, 2])
case("losses", {"logits": logits, "target": target, "x": x}, [F.cross_entropy(logits, target), F.cross_entropy(logits, target, reduction="none"),
                                                              F.mse_loss(x, x * 0.5), F.mse_loss(x, x.flip(0), reduction="none")])
q, k, v = r(2, 2, 5, 4), r(2, 2, 6, 4), r(2, 2, 6, 4)
att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(4), -1) @ v
q2 = r(2, 2, 6, 4)
causal = torch.softmax((q2 @ k.transpose(-2, -1) / 2).masked_fill(torch.ones(6, 6, dtype=torch.bool).triu(1), float("-inf")), -1) @ v
case("attention", {"q": q, "k": k, "v": v, "q2": q2}, [att, causal])
s = r(5, 5).double()
spd = s @ s.T + torch.eye(5, dtype=torch.float64)
evals, evecs = torch.linalg.eigh(spd)
case("eigh", {"spd": spd}, [evals, (evecs @ torch.diag(evals.sqrt()) @ evecs.T)])
# Seeded generators: torch.Generator().manual_seed(s) draws.
case("random", {}, [torch.randn(3, 4, generator=torch.Generator().manual_seed(7)),
                    torch.rand(5, generator=torch.Generator().manual_seed(7)),
                    torch.randint(0, 10, (6,), generator=torch.Generator().manual_seed(7)),
                    torch.randperm(8, generator=torch.Generator().manual_seed(7))])
# Autograd: gradients of a composite function.
xg = x.clone().requires_grad_(True)
wg = w.clone().requires_grad_(True)
loss = (F.layer_norm(F.linear(xg, wg, bias), [5]).tanh() ** 2).sum() + F.cross_entropy(F.linear(xg, wg), torch.tensor([1, 0, 4, 2]))
loss.backward()
case("autograd", {"x": x, "w": w, "bias": bias}, [loss, xg.grad, wg.grad])
# One Adam and one AdamW step (torch.optim) from fixed parameters and gradients.
p0, gr = r(4, 3), r(4, 3)
outs = []
for cls, kw in ((torch.optim.Adam, {"lr": 0.1, "weight_decay": 0.05}), (torch.optim.AdamW, {"lr": 0.1, "weight_decay": 0.05}),
                (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01})):
    p = p0.clone().requires_grad_(True)
    opt = cls([p], **kw)
    for i in range(3):
        opt.zero_grad()
        (p * gr * (i + 1)).sum().backward()
        opt.step()
    outs.append(p.detach().clone())
case("optimizers", {"p0": p0, "gr": gr}, outs)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops.json")
with open(out, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
print(f"wrote {len(cases)} cases to {out} (torch {torch.__version__})")
