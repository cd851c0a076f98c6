"""Makes test/models/golden/clip_tiny.json: a tiny CLIP's weights, inputs and PyTorch outputs.

The forward pass below is an independent re-implementation of Hugging Face transformers' CLIPModel
(src/transformers/models/clip/modeling_clip.py, v4.40: CLIPTextTransformer, CLIPVisionTransformer,
CLIPModel.forward), written with plain torch ops because Debian's python3 has no transformers package.
Run with Debian's PyTorch (libtorch 1.13, the library the addon links):
    /usr/bin/python3 test/models/golden/make_clip_golden.py
The weights are stored with the outputs, so the TypeScript test loads exactly these numbers into
src/models/clip.ts's CLIPModel (by Hugging Face parameter name) and compares.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
g = torch.Generator().manual_seed(4)

TEXT = dict(vocab_size=12, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
            max_position_embeddings=16, hidden_act="quick_gelu", layer_norm_eps=1e-5,
            bos_token_id=10, eos_token_id=11, pad_token_id=11)
VISION = dict(hidden_size=16, intermediate_size=24, num_hidden_layers=2, num_attention_heads=4, image_size=8,
              patch_size=4, num_channels=3, hidden_act="gelu", layer_norm_eps=1e-5)
PROJ = 8
MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)

W = {}


def param(name, *shape, std=0.3, mean=0.0):
    W[name] = torch.randn(*shape, generator=g) * std + mean
    return W[name]


def layer_params(prefix, c):
    D, I = c["hidden_size"], c["intermediate_size"]
    for p in ["q_proj", "k_proj", "v_proj", "out_proj"]:
        param(f"{prefix}.self_attn.{p}.weight", D, D)
        param(f"{prefix}.self_attn.{p}.bias", D, std=0.1)
    for ln in ["layer_norm1", "layer_norm2"]:
        param(f"{prefix}.{ln}.weight", D, std=0.1, mean=1.0)
        param(f"{prefix}.{ln}.bias", D, std=0.1)
    param(f"{prefix}.mlp.fc1.weight", I, D)
    param(f"{prefix}.mlp.fc1.bias", I, std=0.1)
    param(f"{prefix}.mlp.fc2.weight", D, I)
    param(f"{prefix}.mlp.fc2.bias", D, std=0.1)


def ln_params(name, D):
    param(f"{name}.weight", D, std=0.1, mean=1.0)
    param(f"{name}.bias", D, std=0.1)


# --- weights (Hugging Face CLIPModel names) -----------------------------------------------------
T, V = TEXT, VISION
param("text_model.embeddings.token_embedding.weight", T["vocab_size"], T["hidden_size"])
param("text_model.embeddings.position_embedding.weight", T["max_position_embeddings"], T["hidden_size"])
for i in range(T["num_hidden_layers"]):
    layer_params(f"text_model.encoder.layers.{i}", T)
ln_params("text_model.final_layer_norm", T["hidden_size"])
n_pos = (V["image_size"] // V["patch_size"]) ** 2 + 1
param("vision_model.embeddings.class_embedding", V["hidden_size"])
param("vision_model.embeddings.patch_embedding.weight", V["hidden_size"], V["num_channels"], V["patch_size"], V["patch_size"])
param("vision_model.embeddings.position_embedding.weight", n_pos, V["hidden_size"])
ln_params("vision_model.pre_layrnorm", V["hidden_size"])
for i in range(V["num_hidden_layers"]):
    layer_params(f"vision_model.encoder.layers.{i}", V)
ln_params("vision_model.post_layernorm", V["hidden_size"])
param("text_projection.weight", PROJ, T["hidden_size"])
param("visual_projection.weight", PROJ, V["hidden_size"])
W["logit_scale"] = torch.tensor(2.6592)


# --- reference forward (transformers' CLIP semantics) ------------------------------------------
def act(name, x):
    return x * torch.sigmoid(1.702 * x) if name == "quick_gelu" else F.gelu(x)


def attention(prefix, x, heads, causal):
    B, L, D = x.shape
    hd = D // heads
    scale = hd ** -0.5
    q = F.linear(x, W[f"{prefix}.q_proj.weight"], W[f"{prefix}.q_proj.bias"]) * scale
    k = F.linear(x, W[f"{prefix}.k_proj.weight"], W[f"{prefix}.k_proj.bias"])
    v = F.linear(x, W[f"{prefix}.v_proj.weight"], W[f"{prefix}.v_proj.bias"])
    q, k, v = (t.view(B, L, heads, hd).transpose(1, 2) for t in (q, k, v))
    w = q @ k.transpose(-1, -2)
    if causal:
        mask = torch.full((L, L), float("-inf")).triu(1)
        w = w + mask
    o = torch.softmax(w, dim=-1) @ v
    o = o.transpose(1, 2).reshape(B, L, D)
    return F.linear(o, W[f"{prefix}.out_proj.weight"], W[f"{prefix}.out_proj.bias"])


def ln(name, x, eps):
    return F.layer_norm(x, x.shape[-1:], W[f"{name}.weight"], W[f"{name}.bias"], eps)


def encoder(prefix, x, c, causal):
    for i in range(c["num_hidden_layers"]):
        p = f"{prefix}.layers.{i}"
        r = x
        x = ln(f"{p}.layer_norm1", x, c["layer_norm_eps"])
        x = r + attention(f"{p}.self_attn", x, c["num_attention_heads"], causal)
        r = x
        x = ln(f"{p}.layer_norm2", x, c["layer_norm_eps"])
        h = act(c["hidden_act"], F.linear(x, W[f"{p}.mlp.fc1.weight"], W[f"{p}.mlp.fc1.bias"]))
        x = r + F.linear(h, W[f"{p}.mlp.fc2.weight"], W[f"{p}.mlp.fc2.bias"])
    return x


def text_forward(ids):
    L = ids.shape[1]
    x = W["text_model.embeddings.token_embedding.weight"][ids] + W["text_model.embeddings.position_embedding.weight"][:L]
    x = encoder("text_model.encoder", x, T, causal=True)
    last = ln("text_model.final_layer_norm", x, T["layer_norm_eps"])
    eos = (ids == T["eos_token_id"]).int().argmax(dim=-1)
    pooled = last[torch.arange(ids.shape[0]), eos]
    return last, pooled, F.linear(pooled, W["text_projection.weight"])


def vision_forward(pixels):
    x = (pixels - MEAN) / STD
    B = x.shape[0]
    patches = F.conv2d(x, W["vision_model.embeddings.patch_embedding.weight"], stride=V["patch_size"])
    patches = patches.flatten(2).transpose(1, 2)
    cls = W["vision_model.embeddings.class_embedding"].expand(B, 1, -1)
    x = torch.cat([cls, patches], dim=1) + W["vision_model.embeddings.position_embedding.weight"]
    x = ln("vision_model.pre_layrnorm", x, V["layer_norm_eps"])
    last = encoder("vision_model.encoder", x, V, causal=False)
    pooled = ln("vision_model.post_layernorm", last[:, 0, :], V["layer_norm_eps"])
    return last, pooled, F.linear(pooled, W["visual_projection.weight"])


ids = torch.tensor([[10, 3, 4, 7, 11, 11], [10, 5, 11, 11, 11, 11], [10, 0, 1, 2, 9, 11]])
pixels = torch.rand(3, 3, V["image_size"], V["image_size"], generator=g)
t_last, t_pooled, t_emb = text_forward(ids)
v_last, v_pooled, v_emb = vision_forward(pixels)
ti = t_emb / t_emb.norm(dim=-1, keepdim=True)
vi = v_emb / v_emb.norm(dim=-1, keepdim=True)
logits_per_image = W["logit_scale"].exp() * vi @ ti.t()


def enc(t):
    t = t.detach()
    dtype = {torch.float32: "float32", torch.int64: "int64"}[t.dtype]
    return {"shape": list(t.shape), "dtype": dtype, "data": [round(v, 8) if isinstance(v, float) else v for v in t.flatten().tolist()]}


out = {
    "provenance": "test/models/golden/make_clip_golden.py with torch " + torch.__version__,
    "config": {"text_config": TEXT, "vision_config": VISION, "projection_dim": PROJ, "logit_scale_init_value": 2.6592},
    "weights": {k: enc(v) for k, v in W.items()},
    "inputs": {"input_ids": enc(ids), "pixel_values": enc(pixels)},
    "outputs": {
        "text_last_hidden_state": enc(t_last),
        "text_pooled": enc(t_pooled),
        "text_embeds": enc(t_emb),
        "vision_last_hidden_state": enc(v_last),
        "vision_pooled": enc(v_pooled),
        "image_embeds": enc(v_emb),
        "logits_per_image": enc(logits_per_image),
    },
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clip_tiny.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
print("wrote", path, os.path.getsize(path), "bytes")
