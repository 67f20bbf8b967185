// Which token plays each special role: an explicit override (the run config's tokenizer.special), else the
// tokenizer config's `<role>_token` field, else a conventional token text (CONVENTIONAL_NAMES). A pad-less
// tokenizer pads with eos.
import { CONVENTIONAL_NAMES, SPECIAL_ROLES, type SpecialRole, type TokenizerDescription } from './tokenizer';

export type RoleOverrides = Partial<Record<SpecialRole, string>>;

function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

/**
 * @param lookup the id of a special (or added) token text, undefined if there is none
 * @param config tokenizer_config.json's object ({} when there is none)
 * @param where names the tokenizer in errors
 */
export function resolveRoles(lookup: (token: string) => number | undefined, config: Record<string, unknown>, overrides: RoleOverrides, where: string): { special: TokenizerDescription['special']; notes: string[] } {
  const special = {} as TokenizerDescription['special'];
  const notes: string[] = [];
  for (const key of Object.keys(overrides)) {
    if (!(SPECIAL_ROLES as readonly string[]).includes(key)) throw new RangeError(`tokenizer.special: unknown role ${JSON.stringify(key)}, allowed: ${SPECIAL_ROLES.join(', ')}`);
  }
  for (const role of SPECIAL_ROLES) {
    special[role] = null;
    const forced = overrides[role];
    if (forced !== undefined) {
      const id = lookup(forced);
      if (id === undefined) throw new RangeError(`tokenizer.special.${role}: ${where} has no token ${JSON.stringify(forced)}`);
      special[role] = { id, token: forced };
      continue;
    }
    const field = `${role}_token`;
    const named = tokenText(config[field]);
    if (named !== null) {
      const id = lookup(named);
      if (id === undefined) throw new RangeError(`${field}: ${where} names ${JSON.stringify(named)}, which is not one of its tokens`);
      special[role] = { id, token: named };
      continue;
    }
    for (const name of CONVENTIONAL_NAMES[role]) {
      const id = lookup(name);
      if (id !== undefined) {
        special[role] = { id, token: name };
        notes.push(`${role} = ${JSON.stringify(name)} by its conventional name`);
        break;
      }
    }
  }
  if (special.pad === null) {
    if (special.eos === null) throw new RangeError(`${where} has neither a pad nor an eos token; name one with tokenizer.special.pad in the run config (or --tokenizer-special pad=TOKEN)`);
    special.pad = { ...special.eos };
    notes.push('pad = eos (the tokenizer names no pad token; pads are never trained on)');
  }
  return { special, notes };
}
