// [M, K, N] for bf16-weights.test.ts: tails of the 14 x 32 / 4 x 8 tiles and of the 16-wide transposes, K beyond
// one slice, and products on the multi-threaded path.
export const BF16_SIZES: [number, number, number][] = [
  [1, 1, 1], [3, 15, 17], [13, 16, 31], [14, 17, 32], [15, 33, 33], [29, 100, 47], [40, 400, 70], [333, 257, 190],
];
