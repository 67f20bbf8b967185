export {};
export { kda } from './kda';
