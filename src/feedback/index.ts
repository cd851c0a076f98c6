/** The feedback layer: database repository (SQLite / PostgreSQL), exchange formats, labeling server. */
export {
  checkImagePath,
  DEFAULT_LABELS_PER_IMAGE,
  DEFAULT_LEASE_MS,
  DEFAULT_RATERS_PER_QUERY,
  DEFAULT_WIN_THRESHOLD,
  FeedbackDb,
  openFeedbackDb,
} from './db.js';
export { FeedbackError, type FeedbackErrorCode } from './errors.js';
export { LABEL_STUDIO_CONFIG, parseLabelJsonl, toJsonl, toLabelStudio } from './export.js';
export { type AgreementResult, agreement, cohenKappa, fleissKappa } from './kappa.js';
export { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
export { parseDbUrl, redact } from './sql.js';
export * from './types.js';
