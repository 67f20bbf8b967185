// Deterministic, resumable batch order. Epoch e of a finite source is the permutation drawn from
// Rng.seeded(seed, e); a generated (infinite) source is read in index order. The position {epoch, cursor}
// is the whole state: save it with the checkpoint and a resumed run continues with the next unseen example.
import { Rng } from './rng';
import type { Example, ExampleSource } from './sources';

export interface BatcherState {
  epoch: number;
  /** Examples of the current epoch already handed out. */
  cursor: number;
}

export interface BatcherOptions {
  batchSize: number;
  seed: number;
  /** Shuffle finite sources each epoch (default true). */
  shuffle?: boolean;
}

export class Batcher {
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  private epoch = 0;
  private cursor = 0;
  private order: number[] | null = null;
  private orderEpoch = -1;

  constructor(
    readonly source: ExampleSource,
    opts: BatcherOptions,
  ) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError(`batch_size: expected a positive integer, got ${opts.batchSize}`);
    if (!Number.isInteger(opts.seed)) throw new RangeError(`seed: expected an integer, got ${opts.seed}`);
    this.batchSize = opts.batchSize;
    this.seed = opts.seed;
    this.shuffle = opts.shuffle ?? true;
  }

  private indexAt(epoch: number, cursor: number): number {
    const n = this.source.size;
    if (n === Infinity) return cursor;
    if (!this.shuffle) return cursor;
    if (this.orderEpoch !== epoch) {
      this.order = Rng.seeded(this.seed, epoch).permutation(n);
      this.orderEpoch = epoch;
    }
    return this.order![cursor];
  }

  /** The next batchSize examples (crossing into the next epoch when one ends). */
  next(): Example[] {
    const out: Example[] = [];
    while (out.length < this.batchSize) {
      if (this.cursor >= this.source.size) {
        this.epoch++;
        this.cursor = 0;
      }
      out.push(this.source.get(this.indexAt(this.epoch, this.cursor)));
      this.cursor++;
    }
    return out;
  }

  getState(): BatcherState {
    return { epoch: this.epoch, cursor: this.cursor };
  }

  setState(state: BatcherState): void {
    if (!state || !Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.cursor) || state.cursor < 0) {
      throw new RangeError(`data position: expected {epoch, cursor} non-negative integers, got ${JSON.stringify(state)}`);
    }
    if (state.cursor > this.source.size) throw new RangeError(`data position: cursor ${state.cursor} is past the end of ${this.source.name} (size ${this.source.size})`);
    this.epoch = state.epoch;
    this.cursor = state.cursor;
  }
}
