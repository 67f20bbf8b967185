// Generation. Base model: greedy next-token decoding with the layer states as cache. With the sidecar:
// draft W tokens greedily, refine up to K steps (each step's argmax predictions become the next draft),
// commit when p_commit >= commit_threshold, at step K commit anyway (a forced commit, flagged "low" when
// p_commit < min_commit_threshold); the committed length comes from the length head when enabled (clamped
// to 1..W, cut after an EOS); then the committed tokens are encoded cleanly onto the prefix state.
import { ops } from '../ops';
import type { KimiLinearLM, LayerState } from '../nn';
import { Tensor, type Var, ag, noGrad, scope } from '../tensor';
import type { ChunkRefine } from './chunk-refine';

export interface GenerationStats {
  chunks: number;
  /** Inner refine steps run, summed over chunks. */
  refineSteps: number;
  /** Chunks committed because p_commit reached commit_threshold. */
  thresholdCommits: number;
  /** Chunks committed at step K with p_commit < min_commit_threshold. */
  lowForcedCommits: number;
  committedTokens: number;
}

export interface GenerationResult {
  ids: number[];
  stats: GenerationStats;
}

function argmaxLast(logits: Var): number {
  const [, T, V] = logits.shape;
  const a = logits.data.toFloat32Array();
  let best = 0;
  const off = (T - 1) * V;
  for (let v = 1; v < V; v++) if (a[off + v] > a[off + best]) best = v;
  return best;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/**
 * Generates up to maxNewTokens after `prompt` (one sequence), stopping after eosId. With `sidecar` the
 * chunked refine-and-commit procedure runs; without it, plain greedy decoding.
 */
export function generate(model: KimiLinearLM, sidecar: ChunkRefine | null, prompt: number[], opts: { maxNewTokens: number; eosId: number }): GenerationResult {
  if (!Array.isArray(prompt) || prompt.length < 1) throw new RangeError('prompt: expected at least one token id');
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 1) throw new RangeError(`max_new_tokens: expected a positive integer, got ${opts.maxNewTokens}`);
  const stats: GenerationStats = { chunks: 0, refineSteps: 0, thresholdCommits: 0, lowForcedCommits: 0, committedTokens: 0 };
  const out: number[] = [];
  return noGrad(() =>
    scope(() => {
      const enc = (ids: number[], st: LayerState[] | null) => model.forwardWithState(Tensor.from(Int32Array.from(ids), [1, ids.length]), st);
      let { logits, states } = enc(prompt, null);
      let lastLogits: Var = ag.slice(logits, 1, logits.shape[1] - 1, logits.shape[1]);
      let P = prompt.length;
      while (out.length < opts.maxNewTokens) {
        if (!sidecar) {
          const tok = argmaxLast(lastLogits);
          out.push(tok);
          if (tok === opts.eosId || out.length >= opts.maxNewTokens) break;
          const r = scope(() => {
            const e = enc([tok], states);
            return { states: e.states, lastLogits: e.logits };
          });
          states = r.states;
          lastLogits = r.lastLogits;
          continue;
        }
        const W = sidecar.cfg.chunk_width;
        const K = sidecar.cfg.max_inner_steps;
        const step = scope(() => {
          // Draft: W greedy tokens from the prefix state (base model only).
          const draft: number[] = [];
          let st = states;
          let lg = lastLogits;
          for (let j = 0; j < W; j++) {
            const tok = argmaxLast(lg);
            draft.push(tok);
            if (j + 1 < W) {
              const e = enc([tok], st);
              st = e.states;
              lg = e.logits;
            }
          }
          // Refine from the prefix snapshot.
          const ctx = { B: 1, P, prefix: Tensor.from(Int32Array.from([0]), [1, 1]), full: false, states, lastLogits };
          let cells = sidecar.initialCellStates(1);
          let prevTop: Var | null = null;
          let run = states;
          let rowZero: Var = lastLogits;
          let cur = draft;
          let committed = false;
          let p = 0;
          let lengthLogits: Float32Array | null = null;
          let k = 0;
          for (; k < K && !committed; k++) {
            const s = sidecar.step(ctx, Tensor.from(Int32Array.from(cur), [1, W]), prevTop, cells, run, rowZero);
            cells = s.cellStates;
            prevTop = s.top;
            if (sidecar.cfg.cache_reset_policy === 'keep_all' && s.states) {
              run = s.states;
              rowZero = s.lastRow;
            }
            const am = ops.argmax(s.logits.data);
            cur = Array.from(am.toInt32Array());
            p = sigmoid(s.commitLogit.data.toFloat32Array()[0]);
            lengthLogits = s.lengthLogits ? s.lengthLogits.data.toFloat32Array() : null;
            if (p >= sidecar.cfg.commit_threshold) committed = true;
          }
          let len = W;
          if (lengthLogits) {
            let best = 0;
            for (let v = 1; v < lengthLogits.length; v++) if (lengthLogits[v] > lengthLogits[best]) best = v;
            len = Math.min(W, Math.max(1, best));
          }
          let commit = cur.slice(0, len);
          const eos = commit.indexOf(opts.eosId);
          if (eos >= 0) commit = commit.slice(0, eos + 1);
          commit = commit.slice(0, opts.maxNewTokens - out.length);
          // Encode the committed tokens cleanly onto the prefix state.
          const e = enc(commit, states);
          const T = e.logits.shape[1];
          return { commit, steps: k, committed, low: !committed && p < sidecar.cfg.min_commit_threshold, states: e.states, lastLogits: ag.slice(e.logits, 1, T - 1, T) };
        });
        stats.chunks++;
        stats.refineSteps += step.steps;
        if (step.committed) stats.thresholdCommits++;
        if (step.low) stats.lowForcedCommits++;
        stats.committedTokens += step.commit.length;
        out.push(...step.commit);
        P += step.commit.length;
        states = step.states;
        lastLogits = step.lastLogits;
        if (step.commit.includes(opts.eosId)) break;
      }
      return { ids: out, stats };
    }),
  );
}
