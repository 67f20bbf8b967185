// The byte tokenizer lives in src/tokenizer/ beside the other tokenizers; re-exported here for existing imports.
export { ByteTokenizer, SPECIAL_TOKENS, BYTE_VOCAB_SIZE } from '../tokenizer/byte';
export type { SpecialToken } from '../tokenizer/byte';
export type { EncodeOptions, Tokenizer } from '../tokenizer/tokenizer';
