# The peers' side of the GPU benchmark (scripts/gpu-check.sh): flash-linear-attention's chunk_kda (bf16 q/k/v/beta,
# fp32 log-decay gate, unit-norm q/k, chunk 64) forward and forward+backward at the shapes,
# torch.optim.AdamW(fused=True) fp32 at 1e8 parameters, and the device-to-device copy bandwidth.
# CUDA-event timings after warm-ups, medians. Prints one JSON line per measurement.
# `--warm` only runs each KDA shape once (Triton compiles and autotunes fla's kernels on first use, ~2 minutes;
# gpu-check.sh starts it in the background while our tests run, so the timed run later finds the compiled
# kernels in TRITON_CACHE_DIR).
import json
import os
import sys

import torch
import torch.nn.functional as F


def timed(f, reps=10, warm=3):
    for _ in range(warm):
        f()
    torch.cuda.synchronize()
    ms = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        f()
        b.record()
        torch.cuda.synchronize()
        ms.append(a.elapsed_time(b))
    return sorted(ms)[len(ms) // 2]


def emit(**kw):
    print(json.dumps(kw), flush=True)


def copy_bandwidth():
    n = 1 << 28  # 1 GiB of fp32
    src = torch.empty(n, device="cuda")
    dst = torch.empty_like(src)
    ms = timed(lambda: dst.copy_(src), reps=20)
    emit(what="copy", impl="torch copy_", ms=ms, gbs=2 * 4 * n / (ms * 1e-3) / 1e9)


def adamw():
    params = [torch.nn.Parameter(torch.randn(10_000_000, device="cuda")) for _ in range(10)]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.AdamW(params, lr=1e-3, fused=True)
    ms = timed(opt.step, reps=20)
    emit(what="adamw", impl="torch fused", params=100_000_000, ms=ms, gbs=7 * 4 * 1e8 / (ms * 1e-3) / 1e9)


def kda(warm_only=False):
    from fla.ops.kda import chunk_kda

    for B, T, H, D in [(8, 4096, 16, 128), (1, 16384, 16, 128), (4, 2048, 32, 64)]:
        dev = "cuda"
        q = F.normalize(torch.randn(B, T, H, D, device=dev), dim=-1).bfloat16().requires_grad_()
        k = F.normalize(torch.randn(B, T, H, D, device=dev), dim=-1).bfloat16().requires_grad_()
        v = torch.randn(B, T, H, D, device=dev, dtype=torch.bfloat16).requires_grad_()
        g = F.logsigmoid(torch.randn(B, T, H, D, device=dev, dtype=torch.float32)).div(16).requires_grad_()
        beta = torch.rand(B, T, H, device=dev, dtype=torch.bfloat16).requires_grad_()
        do = torch.randn_like(v)

        def fwd():
            with torch.no_grad():
                chunk_kda(q, k, v, g, beta)

        def fwd_bwd():
            o, _ = chunk_kda(q, k, v, g, beta)
            o.backward(do)

        if warm_only:
            fwd_bwd()
            torch.cuda.synchronize()
        else:
            emit(what="kda", impl="fla chunk_kda bf16", shape=[B, T, H, D], fwd_ms=timed(fwd), fwd_bwd_ms=timed(fwd_bwd))
        del q, k, v, g, beta, do
        torch.cuda.empty_cache()


def moe():
    # The same layer as bench/gpu.ts in eager torch fp32, grouped as transformers' eager experts do: a sigmoid
    # router's top-k (renormalised), the assignments sorted by expert, one matmul pair per expert, then the weighted
    # rows added back per token (index_add_).
    N, d, E, k, I = 4096, 1024, 64, 6, 512
    dev = "cuda"
    logits = (torch.rand(N, E, device=dev) * 4 - 2).requires_grad_()
    x = (torch.rand(N, d, device=dev) * 2 - 1).requires_grad_()
    gate_up = ((torch.rand(E, 2 * I, d, device=dev) * 2 - 1) * 0.03).requires_grad_()
    down = ((torch.rand(E, d, I, device=dev) * 2 - 1) * 0.04).requires_grad_()
    dy = torch.rand(N, d, device=dev) * 2 - 1

    def layer():
        s = logits.sigmoid()
        _, idx = s.topk(k, dim=-1)
        w = s.gather(1, idx)
        w = w / (w.sum(-1, keepdim=True) + 1e-20)
        flat = idx.reshape(-1)
        order = flat.argsort(stable=True)
        counts = torch.bincount(flat, minlength=E).tolist()
        tok = order // k
        outs = []
        for e, seg in enumerate(x[tok].split(counts)):
            if seg.shape[0] == 0:
                continue
            h = seg @ gate_up[e].T
            outs.append((F.silu(h[:, :I]) * h[:, I:]) @ down[e].T)
        ye = torch.cat(outs) * w.reshape(-1)[order, None]
        return torch.zeros(N, d, device=dev).index_add_(0, tok, ye)

    def fwd():
        with torch.no_grad():
            layer()

    def fwd_bwd():
        layer().backward(dy)

    emit(what="moe", impl="torch eager per-expert fp32", shape=[N, d, E, k, I], fwd_ms=timed(fwd), fwd_bwd_ms=timed(fwd_bwd))


if __name__ == "__main__":
    if "--warm" in sys.argv:
        kda(warm_only=True)
        sys.exit(0)
    emit(what="device", name=torch.cuda.get_device_name(0))
    copy_bandwidth()
    adamw()
    moe()
    if os.environ.get("RECLIN_SKIP_FLA") != "1":
        try:
            kda()
        except Exception as e:  # report and go on: the table still shows the other rows
            emit(what="error", impl="fla chunk_kda", error=repr(e)[:300])
    sys.exit(0)
