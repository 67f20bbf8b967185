/** The block indices that get a RefineCell (`layers_to_refine`), checked against the model depth. */
export function refinedLayers(layersToRefine: 'all' | number[], numLayers: number): number[] {
  if (layersToRefine === 'all') return Array.from({ length: numLayers }, (_, i) => i);
  const bad = layersToRefine.filter((l) => !Number.isInteger(l) || l < 0 || l >= numLayers);
  if (bad.length) throw new RangeError(`layers_to_refine: indices ${bad.join(', ')} out of range for a model with ${numLayers} layers`);
  return [...new Set(layersToRefine)].sort((a, b) => a - b);
}
