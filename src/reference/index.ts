// Float64 references beside the fast kernels: the definitions the native and CUDA kernels are tested against,
// exported so users can check a kernel on their own inputs (`import { reference } from 'reclin'`).
export { kdaForward, kdaBackward, type KdaReferenceInputs } from './kda';
export { adamwStep, type AdamWReferenceHyper } from './adamw';
export { moeRouterLogits, moeScores, moeSelect, moeWeights, moeRoute, moeExperts, moeLayer, type MoeReferenceRoute } from './moe';
