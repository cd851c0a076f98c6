/**
 * A mistake the user can fix (bad flag, unknown word, missing file). The CLI prints its message on
 * one line and exits with code 2; it never shows a stack trace.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
