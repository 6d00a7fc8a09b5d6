/** No buildable app was found in a source tree; the message says what was looked for. */
export class DetectionError extends Error {
  readonly code = 'detection_failed';
  override name = 'DetectionError';
}

export type ArchiveErrorCode =
  | 'archive_too_large'
  | 'archive_unsafe_path'
  | 'archive_bad_entry'
  | 'archive_bomb'
  | 'archive_invalid';

/** An uploaded archive was refused. `status` is the HTTP status the API should answer with. */
export class ArchiveError extends Error {
  override name = 'ArchiveError';
  constructor(
    readonly code: ArchiveErrorCode,
    message: string,
    /** The archive entry at fault, when there is one. */
    readonly entry?: string,
  ) {
    super(message);
  }
  get status(): 400 | 413 {
    return this.code === 'archive_too_large' ? 413 : 400;
  }
}

export type SourceErrorCode = 'invalid_repo_url' | 'invalid_branch' | 'clone_failed';

/**
 * A git source was refused (bad input: HTTP 400 with `field` in the details) or could not be
 * fetched (`clone_failed`: a build failure, not an API error).
 */
export class SourceError extends Error {
  override name = 'SourceError';
  constructor(
    readonly code: SourceErrorCode,
    readonly field: 'repo_url' | 'branch',
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}
