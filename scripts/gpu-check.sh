#!/usr/bin/env bash
# One prepared run on the GPU machine (see ../shared/device/README.md). Prepare it here first:
#   node scripts/build-native.js --force --cuda --arch=90 --out=build-cuda && node scripts/build-ts.js && bash scripts/gpu-pack.sh
# then run on the device with carry [".device", "build-cuda/Release", "dist"]:
#   mkdir -p /tmp/bin && xz -dc .device/node.xz > /tmp/bin/node && chmod +x /tmp/bin/node && export PATH=/tmp/bin:$PATH && bash scripts/gpu-check.sh
# Runs every test/gpu test with the CUDA binary (test/gpu/moe.test.ts: the MoE ops and a few kimi-tiny steps against the CPU;
# test/gpu/matmul-bf16.test.ts: bf16-input matmuls and their gradients against the CPU GEMM on bf16-rounded inputs),
# the matmul tests again with RECLIN_CUBLAS=0 (our SIMT GEMM, f32 and bf16), a 200-step `reclin run --device cuda`
# (fp32 and bf16) against the same run on the CPU and bf16 against fp32 on the GPU (docs/precision.md), then the benchmark (ours: bench/gpu.ts; peers: bench/peers.py with
# flash-linear-attention's chunk_kda, torch fused AdamW and the copy bandwidth), then training throughput: the `tiny`
# preset (dense), batch 16 x 1024 of the same tokens, bf16, median of 20 steps after 5, reclin (bench/train.ts, the
# Trainer's device path) against the same model in PyTorch with fla's chunk_kda (bench/train_torch.py --device cuda:
# bf16 autocast, fused AdamW), and prints a short table last.
# Kernel values and barriers are already checked on the CPU in CI (test/cuda-emu.test.ts: real threads per block
# under ThreadSanitizer); this run checks what that cannot: the hardware (launch limits, real warps, the
# allocator and streams), compute-sanitizer's memcheck/racecheck on a real workload, and speed. Peer copies need
# two GPUs and stay unchecked on a one-GPU machine.
# Every stage has its own time limit (tests 60 s per file, the two GPU runs 90 s each beside the CPU run's 300 s,
# compute-sanitizer 2 x 60 s, beside them the fla warm-ups 200 s (the benchmark shapes, and one training step of the
# PyTorch side, whose fla kernels are new ones: the tiny preset's 4 heads are a Triton constexpr); then 100 s for each
# benchmark and 60 s for each training side) so the whole run stays under 8 minutes; logs go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/reclin-gpu}
start=$SECONDS
# lim N: N seconds, or fewer so that everything ends 450 s after the start (at least 5)
lim() { local left=$((450 - (SECONDS - start))); ((left < $1)) && { ((left < 5)) && echo 5 || echo "$left"; } || echo "$1"; }
mkdir -p "$out"
if [ ! -d node_modules ] && [ -f .device/node_modules.tar.gz ]; then tar -xzf .device/node_modules.tar.gz; fi
export RECLIN_ADDON="$PWD/build-cuda/Release/reclin.node"
export RECLIN_BACKEND=cuda
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader | tee "$out/gpu.txt"
node -e "const r=require('./dist'); const a=r.loadAddon(); console.log('addon:', a.path, '|', a.reason)" 2>&1 | tee "$out/addon.txt"
status=0

# fla's Triton kernels compile on the CPU while our tests run (the timed peer run comes after our benchmark)
if [ -d .device/whl ]; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/reclin-site .device/whl/*.whl > "$out/pip.log" 2>&1
  export PYTHONPATH=/tmp/reclin-site TRITON_CACHE_DIR=/tmp/reclin-triton
fi
timeout 200 python3 bench/peers.py --warm > "$out/peers-warm.log" 2>&1 &
warm_pid=$!
# The training comparison's PyTorch side: one step now compiles its fla kernels (and, with TRITON_CACHE_AUTOTUNING,
# keeps the autotuning choices on disk for the timed run).
tok=/tmp/reclin-train-tokens.bin
train_args=(--config=configs/models/tiny.json --tokens="$tok" --batch=16 --seq=1024)  # --k=v: both sides read it
python3 bench/train_tokens.py "$tok" > "$out/train-warm.log" 2>&1
TRITON_CACHE_AUTOTUNING=1 timeout 200 python3 bench/train_torch.py "${train_args[@]}" --device=cuda --precision=bf16 --steps=1 --warmup=1 \
  >> "$out/train-warm.log" 2>&1 &
train_warm_pid=$!

# The loss-curve check: the same 200-step tiny-preset run on the CPU (now, in the background) and on the GPU (after
# the tests), fp32 and bf16; compared in the summary (scripts/loss-curves.js).
runs="$out/runs"
curve() {  # curve NAME DEVICE PRECISION LIMIT
  timeout "$4" node bin/reclin.js run --experiment-dir "$runs" --experiment-name "$1" --device "$2" --precision "$3" \
    --model-config tiny --data synthetic:sorting --num-steps 200 --batch-size 8 --lr 1e-3 --warmup-steps 20 --seed 7 \
    --log-interval 1 --eval-interval 200 --save-interval 200 --eval-examples 64 > "$out/run-$1.log" 2>&1 ||
    echo "run $1 stopped (exit $?)" >> "$out/run-$1.log"
}
curve cpu cpu fp32 300 &
cpu_run_pid=$!

: > "$out/gpu-tests.log"
for f in test/gpu/*.test.ts; do
  RECLIN_CUDA_SYNC=1 timeout "$(lim 60)" node --import tsx --test --test-reporter=spec "$f" >> "$out/gpu-tests.log" 2>&1 || status=1
done
# the matmul tests again (f32 and bf16 inputs) with cuBLASLt off, so reclin's own GEMM kernel runs on the hardware too
echo "== matmul tests with RECLIN_CUBLAS=0 (reclin's SIMT GEMM) ==" >> "$out/gpu-tests.log"
RECLIN_CUBLAS=0 RECLIN_CUDA_SYNC=1 timeout "$(lim 60)" node --import tsx --test --test-reporter=spec --test-name-pattern=matmul \
  test/gpu/ops.test.ts test/gpu/matmul-bf16.test.ts >> "$out/gpu-tests.log" 2>&1 || status=1
tail -n 60 "$out/gpu-tests.log"

curve cuda-fp32 cuda fp32 "$(lim 90)"
curve cuda-bf16 cuda bf16 "$(lim 90)"
wait "$cpu_run_pid"
tail -n 3 "$out"/run-*.log

# Out-of-bounds accesses and shared-memory races on a small workload (while fla's kernels still compile).
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -n 1)
: > "$out/sanitizer.log"
if [ -n "$san" ] && ((SECONDS - start < 200)); then
  for tool in memcheck racecheck; do
    timeout "$(lim 60)" "$san" --tool "$tool" --target-processes all node --import tsx test/gpu/sanitize-workload.ts >> "$out/sanitizer.log" 2>&1 ||
      echo "compute-sanitizer $tool: exit $?" >> "$out/sanitizer.log"
  done
else
  echo "compute-sanitizer not found or no time left for it" >> "$out/sanitizer.log"
fi

wait "$warm_pid" || echo "fla warm-up stopped (exit $?)" >> "$out/peers-warm.log"
wait "$train_warm_pid" || echo "training warm-up stopped (exit $?)" >> "$out/train-warm.log"
timeout "$(lim 100)" node --import tsx bench/gpu.ts > "$out/bench-ours.jsonl" 2> "$out/bench-ours.err" || echo "bench/gpu.ts stopped (exit $?)" >> "$out/bench-ours.err"
timeout "$(lim 100)" python3 bench/peers.py > "$out/bench-peers.jsonl" 2> "$out/bench-peers.err" || echo "bench/peers.py stopped (exit $?)" >> "$out/bench-peers.err"
# Training tokens/s: both sides on the same tokens, shapes and precision, one after the other on a quiet machine.
timeout "$(lim 60)" node --import tsx bench/train.ts "${train_args[@]}" --device=cuda --precision=bf16 --steps=20 --warmup=5 \
  > "$out/train-reclin.json" 2> "$out/train-reclin.err" || echo "bench/train.ts stopped (exit $?)" >> "$out/train-reclin.err"
TRITON_CACHE_AUTOTUNING=1 timeout "$(lim 60)" python3 bench/train_torch.py "${train_args[@]}" --device=cuda --precision=bf16 --steps=20 --warmup=5 \
  > "$out/train-torch.json" 2> "$out/train-torch.err" || echo "bench/train_torch.py stopped (exit $?)" >> "$out/train-torch.err"
tail -n 5 "$out/peers-warm.log" "$out/bench-ours.err" "$out/bench-peers.err" "$out/train-warm.log" "$out/train-reclin.err" "$out/train-torch.err" 2>/dev/null

echo
echo "== summary ($(cat "$out/gpu.txt")) =="
grep -E '^(✔|✖)' "$out/gpu-tests.log" | sed 's/ ([0-9.]*ms)$//' | head -40
grep -E 'ERROR SUMMARY|compute-sanitizer|workload done' "$out/sanitizer.log"
node -e '
const fs = require("fs");
const read = (f) => { try { return fs.readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter(Boolean); } catch { return []; } };
const rows = [...read(process.argv[1]), ...read(process.argv[2])];
const f = (x) => (typeof x === "number" ? x.toFixed(2) : "-");
const kda = rows.filter((r) => r.what === "kda");
const key = (s) => s.join(",");
console.log("KDA fwd / fwd+bwd ms     reclin bf16 (SIMT)      reclin f32 (SIMT)       fla chunk_kda bf16");
for (const s of [[8,4096,16,128],[1,16384,16,128],[4,2048,32,64]]) {
  const cell = (impl) => { const r = kda.find((x) => x.impl.startsWith(impl) && key(x.shape) === key(s)) || {}; return `${f(r.fwd_ms)} / ${f(r.fwd_bwd_ms)}`.padEnd(24); };
  console.log(`(${key(s)})`.padEnd(24) + cell("reclin cuda bf16") + cell("reclin cuda f32") + cell("fla"));
}
for (const r of rows.filter((r) => r.what === "moe"))
  console.log(`MoE (N,d,E,k,I = ${key(r.shape)}) fwd / fwd+bwd ms, ${r.impl}: ${f(r.fwd_ms)} / ${f(r.fwd_bwd_ms)}`);
const copy = rows.find((r) => r.what === "copy");
for (const r of rows.filter((r) => r.what === "adamw"))
  console.log(`AdamW 1e8 ${r.impl}: ${f(r.ms)} ms, ${f(r.gbs)} GB/s` + (copy ? ` = ${(100 * r.gbs / copy.gbs).toFixed(0)}% of copy (${f(copy.gbs)} GB/s)` : ""));
for (const r of rows.filter((r) => r.what === "error")) console.log(`error ${r.impl}: ${r.error}`);
' "$out/bench-ours.jsonl" "$out/bench-peers.jsonl"
node -e '
const fs = require("fs");
const read = (f) => { try { return JSON.parse(fs.readFileSync(f, "utf8").trim().split("\n").pop()); } catch { return null; } };
const [r, p] = [read(process.argv[1]), read(process.argv[2])];
const f = (x) => (typeof x === "number" ? x.toFixed(0) : "-").padStart(12);
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : "-").padStart(8);
console.log("tiny preset, batch 16 x 1024, bf16".padEnd(40) + "reclin".padStart(12) + "PyTorch+fla".padStart(12) + "   ratio (reclin / PyTorch+fla)");
console.log("train tokens/s (median of 20 steps)".padEnd(40) + f(r?.train_tokens_per_s) + f(p?.train_tokens_per_s) + ratio(r?.train_tokens_per_s, p?.train_tokens_per_s) + " (target >= 1)");
console.log("inference tokens/s".padEnd(40) + f(r?.infer_tokens_per_s) + f(p?.infer_tokens_per_s) + ratio(r?.infer_tokens_per_s, p?.infer_tokens_per_s));
const l = (x) => (x?.losses?.length ? `${x.losses[0].toFixed(3)} -> ${x.losses.at(-1).toFixed(3)}` : "-");
console.log(`loss first -> last: reclin ${l(r)}, PyTorch+fla ${l(p)}; params ${r?.params ?? "-"} / ${p?.params ?? "-"}` + (p ? ` (torch ${p.torch}, ${p.kda ?? "no fla"})` : ""));
' "$out/train-reclin.json" "$out/train-torch.json"
node scripts/loss-curves.js "$runs/cpu" "$runs/cuda-fp32" "$runs/cuda-bf16" | tee "$out/loss-curves.txt" || status=1
# bf16 (bf16 matmul inputs, bf16 KDA storage) against fp32 on the same GPU: only the precision differs
node scripts/loss-curves.js "$runs/cuda-fp32" "$runs/cuda-bf16" | tee -a "$out/loss-curves.txt" || status=1
exit $status
