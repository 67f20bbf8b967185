// Child process for bf16-weights.test.ts: loads the frozen bf16 base in argv[2] in a fresh process and prints the
// native host bytes held after the load, the peak during it and the largest parameter's element count.
import { loadModel, memory } from '../src';

const m = loadModel(process.argv[2], { frozen: true });
const { hostBytes, peakHostBytes } = memory();
console.log(JSON.stringify({ hostBytes, peakHostBytes, maxNumel: Math.max(...m.parameters().map((p) => p.data.size)), dtypes: [...new Set(m.parameters().map((p) => p.data.dtype))] }));
m.dispose();
