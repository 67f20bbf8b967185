"""PyTorch side of `npm run bench:train`: the same Kimi-style architecture as reclin's KimiLinearLM, built from the
same config.json (KDA layers per docs/design/kda.md §1 with our chunked KDA from bench/torch_cpu.py, NoPE causal softmax
attention, SwiGLU MLP, pre-norm blocks), trained with torch.optim.AdamW(fused=True) on the same token file.
Prints one JSON line: {"train_tokens_per_s", "infer_tokens_per_s", "losses", "params"}.
Usage: python bench/train_torch.py --config C --tokens F --batch 8 --seq 512 --steps N --warmup W --threads 2
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from torch_cpu import kda_chunked  # noqa: E402


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class ShortConv(nn.Module):
    """Causal depthwise conv (kernel W) + SiLU, as reclin's ShortConv."""

    def __init__(self, c, w):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c, w) * (1.0 / math.sqrt(w)))
        self.w = w

    def forward(self, x):  # [B,T,C]
        y = F.conv1d(F.pad(x.transpose(1, 2), (self.w - 1, 0)), self.weight.unsqueeze(1), groups=x.shape[-1])
        return F.silu(y.transpose(1, 2))


class KDA(nn.Module):
    def __init__(self, d, H, K, conv, eps):
        super().__init__()
        HK = H * K
        self.H, self.K, self.eps = H, K, eps
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(d, HK, bias=False) for _ in range(3))
        self.q_conv, self.k_conv, self.v_conv = (ShortConv(HK, conv) for _ in range(3))
        self.f_a, self.f_b = nn.Linear(d, K, bias=False), nn.Linear(K, HK, bias=False)
        self.A_log = nn.Parameter(torch.log(torch.empty(H).uniform_(1, 16)))
        self.dt_bias = nn.Parameter(torch.zeros(HK))
        self.b_proj = nn.Linear(d, H, bias=False)
        self.g_a, self.g_b = nn.Linear(d, K, bias=False), nn.Linear(K, HK, bias=False)
        self.o_norm = nn.Parameter(torch.ones(K))
        self.o_proj = nn.Linear(HK, d, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        H, K = self.H, self.K
        q = F.normalize(self.q_conv(self.q_proj(x)).view(B, T, H, K), dim=-1, eps=1e-6)
        k = F.normalize(self.k_conv(self.k_proj(x)).view(B, T, H, K), dim=-1, eps=1e-6)
        v = self.v_conv(self.v_proj(x)).view(B, T, H, K)
        f = self.f_b(self.f_a(x)).view(B, T, H, K) + self.dt_bias.view(H, K)
        g = -torch.exp(self.A_log).view(H, 1) * F.softplus(f)
        beta = torch.sigmoid(self.b_proj(x))
        o, _ = kda_chunked(q, k, v, g, beta, K ** -0.5)
        gate = self.g_b(self.g_a(x)).view(B, T, H, K)
        o = o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + self.eps) * self.o_norm * torch.sigmoid(gate)
        return self.o_proj(o.reshape(B, T, H * K))


class Attention(nn.Module):
    def __init__(self, d, H, D):
        super().__init__()
        self.H, self.D = H, D
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(d, H * D, bias=False) for _ in range(3))
        self.o_proj = nn.Linear(H * D, d, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        q, k, v = (p(x).view(B, T, self.H, self.D).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(o.transpose(1, 2).reshape(B, T, self.H * self.D))


class Block(nn.Module):
    def __init__(self, cfg, kda):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["rms_norm_eps"]
        lac = cfg["linear_attn_config"]
        self.norm1, self.norm2 = RMSNorm(d, eps), RMSNorm(d, eps)
        if kda:
            self.mixer = KDA(d, lac["num_heads"], lac["head_dim"], lac["short_conv_kernel_size"], eps)
        else:
            self.mixer = Attention(d, cfg["num_attention_heads"], cfg.get("attention_head_dim", d // cfg["num_attention_heads"]))
        i = cfg["intermediate_size"]
        self.gate, self.up, self.down = nn.Linear(d, i, bias=False), nn.Linear(d, i, bias=False), nn.Linear(i, d, bias=False)

    def forward(self, h):
        h = h + self.mixer(self.norm1(h))
        x = self.norm2(h)
        return h + self.down(F.silu(self.gate(x)) * self.up(x))


class LM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        kda_layers = set(cfg["linear_attn_config"]["kda_layers"])  # 1-based, as in the HF config
        self.embed = nn.Embedding(cfg["vocab_size"], d)
        self.layers = nn.ModuleList(Block(cfg, (i + 1) in kda_layers) for i in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(d, cfg["rms_norm_eps"])
        self.lm_head = nn.Linear(d, cfg["vocab_size"], bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=cfg.get("initializer_range", 0.02))

    def forward(self, ids):
        h = self.embed(ids)
        for layer in self.layers:
            h = layer(h)
        return self.lm_head(self.norm(h))


def main():
    ap = argparse.ArgumentParser()
    for a in ("config", "tokens"):
        ap.add_argument("--" + a, required=True)
    for a, v in (("batch", 8), ("seq", 512), ("steps", 6), ("warmup", 2), ("threads", 2)):
        ap.add_argument("--" + a, type=int, default=v)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = json.load(open(args.config))
    model = LM(cfg)
    tokens = np.fromfile(args.tokens, dtype=np.int32)
    B, T = args.batch, args.seq
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05, fused=True)

    def batch(i):
        off = (i * B * (T + 1)) % (len(tokens) - B * (T + 1))
        x = torch.from_numpy(tokens[off:off + B * (T + 1)].copy()).long().view(B, T + 1)
        return x[:, :-1], x[:, 1:]

    times, losses = [], []
    for i in range(args.warmup + args.steps):
        x, y = batch(i)
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x).reshape(B * T, -1), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        losses.append(float(loss.detach()))
        if i >= args.warmup:
            times.append(dt)
    infer = []
    with torch.no_grad():
        for i in range(args.warmup + args.steps):
            x, _ = batch(i)
            t0 = time.perf_counter()
            model(x)
            if i >= args.warmup:
                infer.append(time.perf_counter() - t0)
    print(json.dumps({
        "train_tokens_per_s": B * T / statistics.median(times),
        "infer_tokens_per_s": B * T / statistics.median(infer),
        "losses": losses,
        "params": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
