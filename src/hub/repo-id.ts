// Hub repository ids as the Hub accepts them for a new model repo: "namespace/name".
// Rules from huggingface_hub's validate_repo_id (letters, digits, '-', '_', '.'; at most 96 characters per part;
// no '--' or '..'; not ending in '.git'); the namespace is required because createRepo needs it.

const PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;

export class RepoIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RepoIdError';
  }
}

/** Checks a model repo id and returns it unchanged; throws RepoIdError naming the value and the rule it breaks. */
export function checkRepoId(repo: unknown, argName = 'repo'): string {
  const allowed = `"namespace/name" with letters, digits, '-', '_', '.' (each part 1-96 characters, starting and ending with a letter or digit, no '--' or '..')`;
  if (typeof repo !== 'string' || repo.length === 0) throw new RepoIdError(`${argName}: expected ${allowed}, got ${JSON.stringify(repo)}`);
  const parts = repo.split('/');
  const bad =
    parts.length !== 2 ||
    !parts.every((p) => PART.test(p)) ||
    repo.includes('--') ||
    repo.includes('..') ||
    repo.endsWith('.git');
  if (bad) throw new RepoIdError(`${argName}: expected ${allowed}, got ${JSON.stringify(repo)}`);
  return repo;
}
