"""transformers side of `npm run bench:train`'s MoE case: transformers' own KimiLinearForCausalLM (its CPU torch
fallbacks for KDA) built from the same config.json as reclin's model, trained with torch.optim.AdamW(fused=True),
global gradient-norm clipping at 1.0, on the same token file and batches as bench/train.ts. The MoE experts run
with each of transformers' expert implementations that works on this machine; the fastest is reported (the best
peer), the others are listed. Prints one JSON line like bench/train_torch.py.
Usage: python bench/train_hf.py --config C --tokens F --batch 8 --seq 512 --steps N --warmup W --threads 2
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
import transformers
from transformers import KimiLinearConfig, KimiLinearForCausalLM


def run(cfg, tokens, args, experts):
    torch.manual_seed(0)
    model = KimiLinearForCausalLM(KimiLinearConfig(**cfg, attn_implementation="sdpa", experts_implementation=experts)).float()
    model.train()
    B, T = args.batch, args.seq
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05, fused=True)

    def batch(i):
        # bench/train.ts's rows: T inputs of each T+1 slice; the model shifts the labels itself
        off = (i * B * (T + 1)) % (len(tokens) - B * (T + 1))
        x = torch.from_numpy(tokens[off:off + B * (T + 1)].copy()).long().view(B, T + 1)
        return x[:, :-1].contiguous()

    times, losses = [], []
    for i in range(args.warmup + args.steps):
        x = batch(i)
        t0 = time.perf_counter()
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        losses.append(float(loss.detach()))
        if i >= args.warmup:
            times.append(dt)
    infer = []
    model.eval()
    with torch.no_grad():
        for i in range(args.warmup + args.steps):
            x = batch(i)
            t0 = time.perf_counter()
            model(input_ids=x, use_cache=False)
            if i >= args.warmup:
                infer.append(time.perf_counter() - t0)
    return {
        "train_tokens_per_s": B * T / statistics.median(times),
        "infer_tokens_per_s": B * T / statistics.median(infer),
        "losses": losses,
        "params": sum(p.numel() for p in model.parameters()),
    }


def main():
    ap = argparse.ArgumentParser()
    for a in ("config", "tokens"):
        ap.add_argument("--" + a, required=True)
    for a, v in (("batch", 8), ("seq", 512), ("steps", 6), ("warmup", 2), ("threads", 2)):
        ap.add_argument("--" + a, type=int, default=v)
    ap.add_argument("--experts", default="eager,batched_mm,grouped_mm")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = json.load(open(args.config))
    tokens = np.fromfile(args.tokens, dtype=np.int32)
    results, failed = {}, {}
    for impl in args.experts.split(","):
        try:
            results[impl] = run(cfg, tokens, args, impl)
        except Exception as e:  # an implementation this transformers or this CPU does not have
            failed[impl] = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
    if not results:
        raise SystemExit(f"no expert implementation ran: {failed}")
    best = max(results, key=lambda k: results[k]["train_tokens_per_s"])
    out = dict(results[best])
    out.update({
        "experts_implementation": best,
        "all": {k: round(r["train_tokens_per_s"]) for k, r in results.items()},
        "failed": failed,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
