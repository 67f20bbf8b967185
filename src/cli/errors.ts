// Errors the CLI reports as one clear line (no stack): bad input the user can fix.
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}
