/**
 * A request the feedback database refuses, in words. The HTTP layer maps `code` to a status:
 * invalid -> 400, not_found -> 404, conflict / full -> 409.
 */
export type FeedbackErrorCode = 'invalid' | 'not_found' | 'conflict' | 'full';

export class FeedbackError extends Error {
  readonly code: FeedbackErrorCode;
  constructor(code: FeedbackErrorCode, message: string) {
    super(message);
    this.name = 'FeedbackError';
    this.code = code;
  }
}
