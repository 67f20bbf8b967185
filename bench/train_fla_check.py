"""Checks that the CUDA KDA layer of bench/train_torch.py (fla's chunk_kda, both call styles) computes the same layer
as its CPU path (our chunked KDA from bench/torch_cpu.py): the output and every gradient of one KDA module, fp32, at
an awkward size (T not a multiple of the chunk). The fla metric RMS(ref - x) / RMS(ref) per tensor; exit 1 above 1e-3.
  On a GPU: the real chunk_kda kernels.
  Without one (fla needs triton to import: PYTHONPATH=<dir with triton>): the exact call is bound to chunk_kda's
  signature, then its in-kernel options are applied with fla's own torch references (naive_kda_gate, the l2norm of
  fla.modules.l2norm: x / sqrt(sum x^2 + 1e-6), sigmoid) and fla's naive_recurrent_kda runs the recurrence: this checks
  the argument layout and the gate/beta/scale conventions, not the kernels.
Usage: python bench/train_fla_check.py"""
import inspect
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from train_torch import KDA  # noqa: E402


def stand_in(real):
    """chunk_kda on the CPU: fla's torch references behind the real signature."""
    from fla.ops.kda.gate import naive_kda_gate
    from fla.ops.kda.naive import naive_recurrent_kda

    sig = inspect.signature(real)

    def chunk_kda(*args, **kwargs):
        a = sig.bind(*args, **kwargs).arguments  # a misspelt or misplaced argument fails here
        extra = a.get("kwargs", {})
        unknown = set(extra) - {"A_log", "dt_bias", "chunk_size"}
        assert not unknown, f"chunk_kda would ignore {unknown}"
        q, k, v, g, beta = (a[n] for n in ("q", "k", "v", "g", "beta"))
        assert q.shape == k.shape and g.shape == q.shape and beta.shape == q.shape[:3] and v.shape[:3] == q.shape[:3]
        if a.get("use_qk_l2norm_in_kernel"):
            q, k = (x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + 1e-6) for x in (q, k))
        if a.get("use_gate_in_kernel"):
            g = naive_kda_gate(g, extra["A_log"], extra.get("dt_bias"))
        if a.get("use_beta_sigmoid_in_kernel"):
            beta = torch.sigmoid(beta)
        return naive_recurrent_kda(q, k, v, g, beta, scale=a.get("scale"))

    return chunk_kda


def run(mod, x, mode):
    KDA.fla = mode
    for p in mod.parameters():
        p.grad = None
    xi = x.clone().requires_grad_()
    y = mod(xi)
    y.backward(torch.cos(torch.arange(y.numel(), dtype=y.dtype, device=y.device)).view_as(y))
    return {"out": y.detach(), "dx": xi.grad, **{n: p.grad.clone() for n, p in mod.named_parameters()}}


def main():
    import fla.ops.kda

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    how = "fla's kernels" if dev == "cuda" else "fla's torch references (no GPU)"
    if dev == "cpu":
        fla.ops.kda.chunk_kda = stand_in(fla.ops.kda.chunk_kda)  # train_torch imports it at call time
    torch.manual_seed(0)
    B, T, d, H, K = 2, 80, 48, 2, 32
    mod = KDA(d, H, K, 4, 1e-5).to(dev)
    with torch.no_grad():
        for p in mod.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.2)
        mod.dt_bias.normal_(0, 0.5)
    x = torch.randn(B, T, d, device=dev)
    ref = run(mod, x, None)  # our chunked KDA (torch ops)
    worst = 0.0
    for mode in ("fused", "plain"):
        got = run(mod, x, mode)
        errs = {n: ((ref[n] - got[n]).pow(2).mean().sqrt() / ref[n].pow(2).mean().sqrt().clamp_min(1e-30)).item() for n in ref}
        worst = max(worst, *errs.values())
        print(f"chunk_kda call ({mode}) via {how} vs our chunked KDA, fp32 {dev}: " + ", ".join(f"{n} {e:.1e}" for n, e in errs.items()))
    KDA.fla = None
    print(f"worst {worst:.1e} (limit 1e-3)")
    sys.exit(0 if worst < 1e-3 else 1)


if __name__ == "__main__":
    main()
