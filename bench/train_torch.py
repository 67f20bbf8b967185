"""PyTorch side of `npm run bench:train` and of the training row of scripts/gpu-check.sh: the same Kimi-style
architecture as reclin's KimiLinearLM, built from the same config.json (KDA layers per docs/design/kda.md §1, MLA
(NoPE causal softmax attention, transformers' KimiLinearAttention math from bench/mla_torch.py), SwiGLU MLP,
pre-norm blocks), trained with torch.optim.AdamW(fused=True) on the same token file.
--device cpu (default): fp32, KDA by our chunked KDA from bench/torch_cpu.py.
--device cuda: KDA by flash-linear-attention's chunk_kda (fla 0.5.2), called as fla's own KDA layer calls it: the q/k
  L2 norm (x / sqrt(sum x^2 + 1e-6)), the gate -exp(A_log) * softplus(f + dt_bias) and beta = sigmoid(.) computed in
  its kernels (the formulas of kda.md §1; --fla-fused 0 computes them in torch instead and passes an fp32 gate);
  --precision bf16 (default there) runs under torch.autocast(bfloat16) with fp32 weights and AdamW state, fp32 turns
  TF32 off; timings synchronise the device before each clock read.
Prints one JSON line: {"train_tokens_per_s", "infer_tokens_per_s", "losses", "params", ...}.
Usage: python bench/train_torch.py --config C --tokens F --batch 8 --seq 512 --steps N --warmup W --threads 2
         [--device cpu|cuda] [--precision fp32|bf16] [--fla-fused 1|0]
"""
import argparse
import contextlib
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
from mla_torch import MLA  # noqa: E402


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
    fla = None  # "fused" or "plain": chunk_kda from fla (CUDA), set by main(); None: our chunked KDA (CPU)

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
        if KDA.fla:
            return self.forward_fla(x)
        B, T, _ = x.shape
        H, K = self.H, self.K
        q = F.normalize(self.q_conv(self.q_proj(x)).view(B, T, H, K), dim=-1, eps=1e-6)
        k = F.normalize(self.k_conv(self.k_proj(x)).view(B, T, H, K), dim=-1, eps=1e-6)
        v = self.v_conv(self.v_proj(x)).view(B, T, H, K)
        f = self.f_b(self.f_a(x)).view(B, T, H, K) + self.dt_bias.view(H, K)
        g = -torch.exp(self.A_log).view(H, 1) * F.softplus(f)
        beta = torch.sigmoid(self.b_proj(x))
        o, _ = kda_chunked(q, k, v, g, beta, K ** -0.5)
        return self.output(x, o)

    def output(self, x, o):
        B, T, H, K = o.shape
        gate = self.g_b(self.g_a(x)).view(B, T, H, K)
        o = o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + self.eps) * self.o_norm * torch.sigmoid(gate)
        return self.o_proj(o.reshape(B, T, H * K))

    def forward_fla(self, x):
        from fla.ops.kda import chunk_kda

        B, T, _ = x.shape
        H, K = self.H, self.K
        q = self.q_conv(self.q_proj(x)).view(B, T, H, K)
        k = self.k_conv(self.k_proj(x)).view(B, T, H, K)
        v = self.v_conv(self.v_proj(x)).view(B, T, H, K)
        f = self.f_b(self.f_a(x)).view(B, T, H, K)
        b = self.b_proj(x)
        if KDA.fla == "fused":  # as fla.layers.kda calls it: the norm, gate and sigmoid inside fla's kernels
            o, _ = chunk_kda(q, k, v, f, b, scale=K ** -0.5, A_log=self.A_log, dt_bias=self.dt_bias,
                             use_qk_l2norm_in_kernel=True, use_gate_in_kernel=True, use_beta_sigmoid_in_kernel=True)
        else:  # the same formulas in torch; the gate in fp32 (as bench/peers.py passes it)
            dt = v.dtype
            n2 = lambda z: (z.float() * torch.rsqrt(z.float().pow(2).sum(-1, keepdim=True) + 1e-6)).to(dt)  # noqa: E731
            g = -torch.exp(self.A_log.float()).view(H, 1) * F.softplus(f.float() + self.dt_bias.float().view(H, K))
            o, _ = chunk_kda(n2(q), n2(k), v, g, torch.sigmoid(b.float()).to(dt), scale=K ** -0.5)
        return self.output(x, o)


class Block(nn.Module):
    def __init__(self, cfg, kda):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["rms_norm_eps"]
        lac = cfg["linear_attn_config"]
        self.norm1, self.norm2 = RMSNorm(d, eps), RMSNorm(d, eps)
        if kda:
            self.mixer = KDA(d, lac["num_heads"], lac["head_dim"], lac["short_conv_kernel_size"], eps)
        else:
            # the full-attention layers are MLA, as in reclin's presets (bench/mla_torch.py: transformers' math)
            self.mixer = MLA(d, cfg["num_attention_heads"], cfg["kv_lora_rank"], cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"])
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
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--precision", choices=("fp32", "bf16"), help="default: fp32 on cpu, bf16 on cuda")
    ap.add_argument("--fla-fused", type=int, choices=(0, 1), default=1, help="cuda: norm/gate/sigmoid in fla's kernels")
    args = ap.parse_args()
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    if dev.type not in ("cpu", "cuda"):
        ap.error(f"--device: expected cpu, cuda or cuda:N, got {args.device!r}")
    precision = args.precision or ("bf16" if cuda else "fp32")
    if precision == "bf16" and not cuda:
        ap.error("--precision: bf16 needs --device cuda (the CPU side is the fp32 reference)")
    if args.steps < 1:
        ap.error(f"--steps: expected at least 1, got {args.steps}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = json.load(open(args.config))
    model = LM(cfg)
    if cuda:
        if not torch.cuda.is_available():
            ap.error(f"--device {args.device}: this torch ({torch.__version__}) sees no CUDA device")
        import fla

        KDA.fla = "fused" if args.fla_fused else "plain"
        if dev.index is not None:
            torch.cuda.set_device(dev)
        model = model.to(dev)
        if precision == "fp32":  # full fp32 like reclin's fp32 (no TF32 unless asked)
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
    tokens = np.fromfile(args.tokens, dtype=np.int32)
    B, T = args.batch, args.seq
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05, fused=True)
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def batch(i):
        off = (i * B * (T + 1)) % (len(tokens) - B * (T + 1))
        x = torch.from_numpy(tokens[off:off + B * (T + 1)].copy()).long().view(B, T + 1)
        if cuda:  # uploaded before the clock starts (as the reclin side)
            x = x.to(dev)
        return x[:, :-1], x[:, 1:]

    times, losses = [], []
    for i in range(args.warmup + args.steps):
        x, y = batch(i)
        sync()
        t0 = time.perf_counter()
        with amp():
            loss = F.cross_entropy(model(x).reshape(B * T, -1), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync()
        dt = time.perf_counter() - t0
        losses.append(float(loss.detach()))
        if i >= args.warmup:
            times.append(dt)
    infer = []
    with torch.no_grad():
        for i in range(args.warmup + args.steps):
            x, _ = batch(i)
            sync()
            t0 = time.perf_counter()
            with amp():
                model(x)
            sync()
            if i >= args.warmup:
                infer.append(time.perf_counter() - t0)
    out = {
        "train_tokens_per_s": B * T / statistics.median(times),
        "infer_tokens_per_s": B * T / statistics.median(infer),
        "losses": losses,
        "params": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
    }
    if cuda:
        out.update(device=torch.cuda.get_device_name(dev), precision=precision,
                   kda=f"fla {getattr(fla, '__version__', '?')} chunk_kda ({KDA.fla})")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
