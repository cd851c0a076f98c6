"""An independent PyTorch reference of diffusers' UNet2DConditionModel forward, written from
diffusers' module structure (ResnetBlock2D, Transformer2DModel with GEGLU, Down/Up/Mid blocks), for
the golden test of src/models/unet.ts.

    /usr/bin/python3 test/models/golden/unet_ref.py
reads  test/models/golden/unet_tiny.safetensors (weights + inputs `__sample`, `__timesteps`, `__context`,
       written by `npx tsx test/models/golden/make_unet_inputs.ts`) and its config unet_tiny.json,
writes test/models/golden/unet_tiny_out.json (the output, flattened).
Python here has no safetensors/diffusers package, so the file is read with json + torch.frombuffer.
"""
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))


def load_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32"
        b, end = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[b:end]), dtype=torch.float32).reshape(e["shape"])
    return out


W = load_safetensors(os.path.join(here, "unet_tiny.safetensors"))
cfg = json.load(open(os.path.join(here, "unet_tiny.json")))
G, EPS = cfg["norm_num_groups"], cfg["norm_eps"]


def lin(x, p, bias=True):
    return F.linear(x, W[p + ".weight"], W.get(p + ".bias") if bias else None)


def conv(x, p, stride=1, padding=None):
    w = W[p + ".weight"]
    return F.conv2d(x, w, W.get(p + ".bias"), stride=stride, padding=w.shape[-1] // 2 if padding is None else padding)


def gn(x, p, eps):
    return F.group_norm(x, G, W[p + ".weight"], W[p + ".bias"], eps)


def resnet(x, temb, p):
    h = conv(F.silu(gn(x, p + ".norm1", EPS)), p + ".conv1")
    h = h + lin(F.silu(temb), p + ".time_emb_proj")[:, :, None, None]
    h = conv(F.silu(gn(h, p + ".norm2", EPS)), p + ".conv2")
    skip = conv(x, p + ".conv_shortcut") if p + ".conv_shortcut.weight" in W else x
    return skip + h


def attention(x, ctx, p, heads):
    B, N, _ = x.shape
    q, k, v = lin(x, p + ".to_q", False), lin(ctx, p + ".to_k", False), lin(ctx, p + ".to_v", False)
    sp = lambda t: t.view(B, t.shape[1], heads, -1).transpose(1, 2)
    q, k, v = sp(q), sp(k), sp(v)
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), -1) @ v
    return lin(a.transpose(1, 2).reshape(B, N, -1), p + ".to_out.0")


def ln(x, p):
    return F.layer_norm(x, [x.shape[-1]], W[p + ".weight"], W[p + ".bias"], 1e-5)


def transformer(x, ctx, p, heads):
    B, C, H, Wd = x.shape
    h = conv(gn(x, p + ".norm", 1e-6), p + ".proj_in")
    h = h.permute(0, 2, 3, 1).reshape(B, H * Wd, C)
    b = p + ".transformer_blocks.0"
    h = h + attention(ln(h, b + ".norm1"), ln(h, b + ".norm1"), b + ".attn1", heads)
    h = h + attention(ln(h, b + ".norm2"), ctx, b + ".attn2", heads)
    hs, gate = lin(ln(h, b + ".norm3"), b + ".ff.net.0.proj").chunk(2, -1)
    h = h + lin(hs * F.gelu(gate), b + ".ff.net.2")
    h = h.reshape(B, H, Wd, C).permute(0, 3, 1, 2)
    return conv(h, p + ".proj_out") + x


def timestep_embedding(t, dim):
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32) / (half - cfg["freq_shift"])
    emb = t[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], -1)
    if cfg["flip_sin_to_cos"]:
        emb = torch.cat([emb[:, half:], emb[:, :half]], -1)
    return emb


def unet(sample, t, ctx):
    heads = cfg["attention_head_dim"]
    temb = timestep_embedding(t, cfg["block_out_channels"][0])
    temb = lin(F.silu(lin(temb, "time_embedding.linear_1")), "time_embedding.linear_2")
    h = conv(sample, "conv_in")
    skips = [h]
    n = len(cfg["block_out_channels"])
    for i, kind in enumerate(cfg["down_block_types"]):
        for j in range(cfg["layers_per_block"]):
            h = resnet(h, temb, f"down_blocks.{i}.resnets.{j}")
            if kind == "CrossAttnDownBlock2D":
                h = transformer(h, ctx, f"down_blocks.{i}.attentions.{j}", heads)
            skips.append(h)
        if i < n - 1:
            h = conv(h, f"down_blocks.{i}.downsamplers.0.conv", stride=2, padding=1)
            skips.append(h)
    h = resnet(h, temb, "mid_block.resnets.0")
    h = transformer(h, ctx, "mid_block.attentions.0", heads)
    h = resnet(h, temb, "mid_block.resnets.1")
    for i, kind in enumerate(cfg["up_block_types"]):
        for j in range(cfg["layers_per_block"] + 1):
            h = resnet(torch.cat([h, skips.pop()], 1), temb, f"up_blocks.{i}.resnets.{j}")
            if kind == "CrossAttnUpBlock2D":
                h = transformer(h, ctx, f"up_blocks.{i}.attentions.{j}", heads)
        if i < n - 1:
            h = conv(F.interpolate(h, scale_factor=2.0, mode="nearest"), f"up_blocks.{i}.upsamplers.0.conv")
    return conv(F.silu(gn(h, "conv_norm_out", EPS)), "conv_out")


with torch.no_grad():
    out = unet(W.pop("__sample"), W.pop("__timesteps"), W.pop("__context"))
json.dump({"torch": torch.__version__, "shape": list(out.shape), "data": out.flatten().tolist()},
          open(os.path.join(here, "unet_tiny_out.json"), "w"))
print("wrote unet_tiny_out.json", list(out.shape), "sum", out.sum().item())
