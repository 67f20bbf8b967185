"""PyTorch side of `npm run bench:cpu`: our own chunked KDA written from docs/design/kda.md §3, torch.optim.AdamW,
torch.mm and transformers' KimiLinearMoE, at fp32 with the same thread count as the reclin side.

bench/cpu.ts starts this as a server and alternates single timed calls of both sides, so that both see the same
machine load (the machine is shared). One JSON request per stdin line, one JSON reply per stdout line:
  {"cmd": "info"}                    -> {"torch": ..., "threads": ..., "capability": ...}
  {"cmd": "check_kda"}               -> {"max_rel_err": ...}   chunked vs recurrent, float64, every gradient
  {"cmd": "prepare", "row": KEY}     -> {"ok": true, "mode": ...}   builds inputs, runs 2 warmups
  {"cmd": "run", "row": KEY}         -> {"ms": ...}             one timed call
  {"cmd": "release", "row": KEY}     -> {"ok": true}
Row keys: "kda_fwd B,T,H,K,V", "kda_fwdbwd B,T,H,K,V", "adamw N", "gemm N", "moe B,T,d,I,E,k,shared",
"mla B,T,d,H,rank,nope,rope,v" (the layer of bench/mla_torch.py).
Usage: python bench/torch_cpu.py --threads 2
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

C = 64  # chunk size


# ---------------------------------------------------------------------------------------------------------------
# KDA, chunked (docs/design/kda.md §3). Layouts: q, k, g [B,T,H,K]; v [B,T,H,V]; beta [B,T,H]; state [B,H,K,V].
# Every exponent of a gate difference is <= 0, as in fla: off-diagonal sub-chunk blocks factor around the first
# row of the query sub-chunk (hierarchically, 64 -> 16 -> 4 -> 1: see _intra). (I+L)^-1 is never formed: a
# batched unit-lower triangular solve gives W and U directly. Backward is torch autograd through all of it.


def _to_chunks(x, B, H, NT):
    # [B, T, H, D] -> [B, H, NT, C, D]
    return x.transpose(1, 2).reshape(B, H, NT, C, x.shape[-1])


def _intra(q, k, G):
    """Both intra-chunk products, sharing every decay factor (lower triangle incl. diagonal, 0 above):
    Aqk[..., r, i] = sum_d q[r,d] k[i,d] exp(G[r,d] - G[i,d]),  Akk[..., r, i] = the same with k[r,d] for q[r,d].
    q, k, G: [..., C, D] per chunk; G = within-chunk cumulative log decay, non-increasing.

    Hierarchical blocks 64 -> 16 -> 4 -> 1: at each level, rows of a child block see the keys of the earlier
    children of the same parent through the factorisation around the child's first row n,
    x_r e^{G_r - G_n} . k_i e^{G_n - G_i}, where both exponents are <= 0 (r >= n > i): exact and overflow-free,
    and every level is a batched matmul. The last level (single rows) leaves the diagonal, where E = 1."""
    lead = q.shape[:-2]
    D = q.shape[-1]
    x = torch.stack([q, k], dim=-3)  # [..., 2, C, D]: the two query roles
    total = torch.diag_embed((x * k.unsqueeze(-3)).sum(-1))  # diagonal r == i
    P = C
    while P > 1:
        b = P // 4 if P > 4 else 1
        nP, nb = C // P, P // b
        Gq = G.reshape(*lead, nP, nb, b, D)
        Gn = Gq[..., :1, :]  # reference: first row of each child, [..., nP, nb, 1, D]
        xf = x.reshape(*lead, 2, nP, nb, b, D) * torch.exp(Gq - Gn).unsqueeze(-5)
        Gk = G.reshape(*lead, nP, 1, P, D)
        kf = k.reshape(*lead, nP, 1, P, D) * torch.exp(torch.clamp(Gn - Gk, max=0))  # [..., nP, nb, P, D]
        if b > 1:
            blk = xf @ kf.unsqueeze(-5).transpose(-1, -2)  # [..., 2, nP, nb, b, P]
        else:  # 1 x D times D x 4: cheaper as a product and a sum than as millions of tiny matmuls
            blk = (xf * kf.unsqueeze(-5)).sum(-1, keepdim=True).transpose(-1, -2)
        key = torch.arange(P, device=q.device)
        start = torch.arange(nb, device=q.device) * b
        earlier = (key.view(1, 1, P) < start.view(nb, 1, 1)).to(q.dtype)  # keys in earlier children only
        blk = (blk * earlier).reshape(*lead, 2, nP, P, P)
        # Place parent block p at rows/cols p*P..: [..., nP, P, 1, P] * eye[nP, 1, nP, 1] -> [C, C]
        eye = torch.eye(nP, device=q.device, dtype=q.dtype).view(nP, 1, nP, 1)
        total = total + (blk.unsqueeze(-2) * eye).reshape(*lead, 2, C, C)
        P = b
    return total.unbind(-3)


def kda_chunked(q, k, v, g, beta, scale, initial_state=None):
    B, T, H, K = q.shape
    V = v.shape[-1]
    pad = (-T) % C
    if pad:  # zero rows: no decay (g=0), no write (beta=0), no output
        q, k, g = (F.pad(x, (0, 0, 0, 0, 0, pad)) for x in (q, k, g))
        v = F.pad(v, (0, 0, 0, 0, 0, pad))
        beta = F.pad(beta, (0, 0, 0, pad))
    NT = (T + pad) // C
    qc, kc, vc, gc = (_to_chunks(x, B, H, NT) for x in (q, k, v, g))
    bc = beta.transpose(1, 2).reshape(B, H, NT, C, 1)
    G = gc.cumsum(-2)  # Γ: within-chunk cumulative log decay
    gam = torch.exp(G)  # γ_r <= 1
    GC = G[..., -1:, :]  # Γ_C
    Aqk, Akk = _intra(qc, kc, G)
    A = scale * Aqk  # incl. diagonal
    L = bc * torch.tril(Akk, diagonal=-1)  # strictly lower
    eye = torch.eye(C, device=q.device, dtype=q.dtype)
    rhs = torch.cat([bc * kc * gam, bc * vc], dim=-1)  # [B,H,NT,C,K+V]
    WU = torch.linalg.solve_triangular(eye + L, rhs, upper=False, unitriangular=True)
    W, U = WU[..., :K], WU[..., K:]
    kbar = kc * torch.exp(GC - G)  # K̄ = k ⊙ γ_C/γ
    qg = scale * qc * gam
    decay = torch.exp(GC).squeeze(-2).unsqueeze(-1)  # [B,H,NT,K,1]
    S = q.new_zeros(B, H, K, V) if initial_state is None else initial_state
    vt_list, oin_list = [], []
    # unbind, not per-chunk slicing: one cheap backward node instead of a full-size zero gradient per slice
    per_chunk = zip(U.unbind(2), W.unbind(2), qg.unbind(2), kbar.transpose(-1, -2).unbind(2), decay.unbind(2))
    for Un, Wn, qgn, kbarTn, decn in per_chunk:  # sequential state pass
        vt = Un - Wn @ S
        oin_list.append(qgn @ S)
        vt_list.append(vt)
        S = decn * S + kbarTn @ vt
    vt = torch.stack(vt_list, dim=2)
    o = torch.stack(oin_list, dim=2) + A @ vt  # [B,H,NT,C,V]
    o = o.reshape(B, H, NT * C, V)[:, :, :T].transpose(1, 2)
    return o, S


def kda_recurrent(q, k, v, g, beta, scale, initial_state=None):
    """The §2 recurrence, one token at a time: the check for kda_chunked."""
    B, T, H, K = q.shape
    V = v.shape[-1]
    S = q.new_zeros(B, H, K, V) if initial_state is None else initial_state
    out = []
    for t in range(T):
        S = torch.exp(g[:, t]).unsqueeze(-1) * S
        e = v[:, t] - torch.einsum('bhkv,bhk->bhv', S, k[:, t])
        S = S + beta[:, t, :, None, None] * k[:, t].unsqueeze(-1) * e.unsqueeze(-2)
        out.append(scale * torch.einsum('bhkv,bhk->bhv', S, q[:, t]))
    return torch.stack(out, dim=1), S


def kda_inputs(B, T, H, K, V, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = F.normalize(torch.randn(B, T, H, K, generator=gen, dtype=dtype), dim=-1)
    k = F.normalize(torch.randn(B, T, H, K, generator=gen, dtype=dtype), dim=-1)
    v = torch.randn(B, T, H, V, generator=gen, dtype=dtype)
    g = F.logsigmoid(torch.randn(B, T, H, K, generator=gen, dtype=dtype)) / 16
    beta = torch.sigmoid(torch.randn(B, T, H, generator=gen, dtype=dtype))
    return q, k, v, g, beta


def check_kda():
    """Chunked vs recurrent in float64 at awkward small sizes: outputs, final state and every gradient."""
    worst = 0.0
    for (B, T, H, K, V) in [(1, 100, 2, 8, 6), (2, 64, 1, 5, 7), (1, 150, 1, 16, 16)]:
        ins = list(kda_inputs(B, T, H, K, V, torch.float64, seed=T))
        ins[3] = ins[3] * 40  # strong decays: exponents far below 0 must stay finite
        ins = [x.requires_grad_() for x in ins]
        s0 = torch.randn(B, H, K, V, dtype=torch.float64).requires_grad_()
        scale = K ** -0.5
        res = []
        for fn in (kda_recurrent, kda_chunked):
            o, S = fn(*ins, scale, s0)
            do = torch.sin(torch.arange(o.numel(), dtype=o.dtype)).reshape(o.shape)
            ds = torch.cos(torch.arange(S.numel(), dtype=S.dtype)).reshape(S.shape)
            grads = torch.autograd.grad((o * do).sum() + (S * ds).sum(), [*ins, s0])
            res.append([o, S, *grads])
        for name, a, b in zip(['o', 'S', 'dq', 'dk', 'dv', 'dg', 'dbeta', 'dS0'], *res):
            err = ((a - b).norm() / a.norm()).item()
            worst = max(worst, err)
            if not err < 1e-9:
                raise SystemExit(f'torch chunked KDA disagrees with the recurrence at {(B, T, H, K, V)}: {name} {err:.2e}')
    return worst


# ---------------------------------------------------------------------------------------------------------------


def moe_row(B, T, d, I, E, k, shared):
    """transformers' own KimiLinearMoE forward + backward, weights drawn as its _init_weights does (normal 0.02,
    correction bias 0), with transformers' default experts implementation "grouped_mm" (one grouped GEMM over all
    experts), or its per-expert "eager" loop where this torch lacks grouped_mm."""
    from transformers.models.kimi_linear.configuration_kimi_linear import KimiLinearConfig
    from transformers.models.kimi_linear.modeling_kimi_linear import KimiLinearMoE

    cfg = KimiLinearConfig(hidden_size=d, moe_intermediate_size=I, num_experts=E, num_experts_per_token=k,
                           num_shared_experts=shared, num_expert_group=1, topk_group=1, moe_renormalize=True,
                           routed_scaling_factor=2.446, num_hidden_layers=2)
    gen = torch.Generator().manual_seed(0)
    m = KimiLinearMoE(cfg).float()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
        m.gate.e_score_correction_bias.zero_()
    x = torch.randn(B, T, d, generator=gen).requires_grad_()
    dy = torch.randn(B, T, d, generator=gen)

    def fwd_bwd():
        m(x).backward(dy)
        m.zero_grad()
        x.grad = None

    # grouped_mm first: the per-expert eager loop is far slower (minutes per call on a busy 2-core machine).
    errors = []
    for impl in ('grouped_mm', 'eager'):
        cfg._experts_implementation = impl
        try:
            fwd_bwd()
            break
        except Exception as e:  # noqa: BLE001 - an implementation this torch cannot run is reported, not timed
            errors.append(f'{impl} failed: {type(e).__name__}')
    note = f' ({"; ".join(errors)})' if errors else ''
    return fwd_bwd, f'experts_implementation={cfg._experts_implementation}{note}'


def make_row(key):
    """A zero-argument callable doing one timed unit of work for a row key, and a note on how."""
    kind, arg = key.split(' ', 1)
    if kind in ('kda_fwd', 'kda_fwdbwd'):
        B, T, H, K, V = (int(x) for x in arg.split(','))
        q, k, v, g, beta = kda_inputs(B, T, H, K, V, torch.float32)
        scale = K ** -0.5
        if kind == 'kda_fwd':

            def fwd():
                with torch.no_grad():
                    kda_chunked(q, k, v, g, beta, scale)

            return fwd, 'chunked, no_grad'
        ins = [x.requires_grad_() for x in (q, k, v, g, beta)]
        do = torch.randn(B, T, H, V)

        def fwd_bwd():
            o, _ = kda_chunked(*ins, scale)
            torch.autograd.grad(o, ins, do)

        return fwd_bwd, 'chunked, autograd'
    if kind == 'adamw':
        n = int(arg)
        p = torch.nn.Parameter(torch.randn(n))
        p.grad = torch.randn(n)
        try:
            opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=0.01, fused=True)
            opt.step()
            return opt.step, 'fused'
        except RuntimeError as e:  # fused unsupported on this build's CPU path
            opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=0.01, foreach=True)
            return opt.step, f'foreach (fused failed: {str(e)[:40]})'
    if kind == 'gemm':
        n = int(arg)
        a, b = torch.randn(n, n), torch.randn(n, n)
        return (lambda: torch.mm(a, b)), 'torch.mm'
    if kind == 'moe':
        return moe_row(*(int(x) for x in arg.split(',')))
    if kind == 'mla':
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from mla_torch import mla_row

        torch.manual_seed(0)
        return mla_row(*(int(x) for x in arg.split(','))), 'bench/mla_torch.py (transformers KimiLinearAttention math, SDPA causal)'
    raise ValueError(f'unknown row {key!r}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = {}
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req['cmd']
        if cmd == 'info':
            rep = {'torch': torch.__version__, 'threads': torch.get_num_threads(),
                   'capability': torch.backends.cpu.get_cpu_capability()}
        elif cmd == 'check_kda':
            rep = {'max_rel_err': check_kda()}
        elif cmd == 'prepare':
            fn, mode = make_row(req['row'])
            fn()
            fn()
            rows[req['row']] = fn
            rep = {'ok': True, 'mode': mode}
        elif cmd == 'run':
            fn = rows[req['row']]
            t0 = time.perf_counter()
            fn()
            rep = {'ms': (time.perf_counter() - t0) * 1e3}
        elif cmd == 'release':
            rows.pop(req['row'], None)
            rep = {'ok': True}
        else:
            rep = {'error': f'unknown cmd {cmd}'}
        print(json.dumps(rep), flush=True)


if __name__ == '__main__':
    main()
