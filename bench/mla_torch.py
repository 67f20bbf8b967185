# The PyTorch side of bench/mla.ts: an MLA layer with the same math as transformers' KimiLinearAttention (NoPE,
# shared k_rope, kv_a_layernorm eps 1e-6), timed forward + backward at the shapes given in argv[1] (JSON list of
# [B, T, d, H, r, nope, rope, v]). Prints one JSON line per shape: {"ms": median milliseconds}.
import json, sys, time
import torch
import torch.nn.functional as F



class MLA(torch.nn.Module):
    def __init__(self, d, H, r, nope, rope, v):
        super().__init__()
        self.H, self.r, self.nope, self.rope, self.v = H, r, nope, rope, v
        self.q_proj = torch.nn.Linear(d, H * (nope + rope), bias=False)
        self.kv_a = torch.nn.Linear(d, r + rope, bias=False)
        self.kv_norm = torch.nn.RMSNorm(r, eps=1e-6)
        self.kv_b = torch.nn.Linear(r, H * (nope + v), bias=False)
        self.o_proj = torch.nn.Linear(H * v, d, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.H, -1).transpose(1, 2)
        c, kr = self.kv_a(x).split([self.r, self.rope], -1)
        kv = self.kv_b(self.kv_norm(c)).view(B, T, self.H, -1).transpose(1, 2)
        kn, val = kv.split([self.nope, self.v], -1)
        k = torch.cat([kn, kr[:, None].expand(B, self.H, T, self.rope)], -1)
        o = F.scaled_dot_product_attention(q, k, val, is_causal=True, scale=(self.nope + self.rope) ** -0.5)
        return self.o_proj(o.transpose(1, 2).reshape(B, T, -1))


def mla_row(B, T, d, H, r, nope, rope, v):
    """One forward + backward of the layer at this shape (bench/torch_cpu.py's 'mla' rows use it too)."""
    m = MLA(d, H, r, nope, rope, v)
    x = torch.randn(B, T, d, requires_grad=True)
    dy = torch.randn(B, T, d)

    def fwd_bwd():
        m(x).backward(dy)
        m.zero_grad()
        x.grad = None

    return fwd_bwd


if __name__ == '__main__':
    torch.set_num_threads(int(sys.argv[2]))
    torch.manual_seed(0)
    for shape in json.loads(sys.argv[1]):
        fn = mla_row(*shape)
        times = []
        for i in range(8):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        times = sorted(times[2:])
        print(json.dumps({'ms': times[len(times) // 2]}), flush=True)
