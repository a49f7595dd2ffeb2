// The storage interface every back-end implements (local directory, SFTP, FTP/FTPS, S3).
// Names are '/'-separated paths relative to the repository root. The repository format
// relies on exactly these guarantees and nothing more, so any store that offers them can
// hold a repository.

export interface ObjectInfo {
  readonly name: string;
  readonly sizeBytes: number;
  /**
   * When the storage server last wrote the object, in ms since the epoch, by the server's
   * clock (not ours: compare it with another object's time, or allow for skew). Precision
   * depends on the back-end: ms locally, 1 s over SFTP, S3 and FTP stat, 1 min in a plain
   * FTP LIST. null only where the server gives no time at all.
   */
  readonly modifiedMs: number | null;
}

/** The space of the filesystem a target writes to, as its server reports it. */
export interface TargetSpace {
  readonly totalBytes: number;
  readonly freeBytes: number;
}

export interface ByteRange {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

export interface Target {
  /** Where the target is, for messages: never contains a password or key. */
  readonly displayUrl: string;
  /** Writes an object atomically: a reader sees the old object, or none, or all of the new one. */
  put(name: string, data: Uint8Array): Promise<void>;
  /** Creates an object atomically only if no object has that name; false when one exists. */
  create(name: string, data: Uint8Array): Promise<boolean>;
  /** Reads an object or a byte range of it; throws OBJECT_MISSING when there is none. */
  get(name: string, range?: ByteRange): Promise<Buffer>;
  /** Lists every object whose name starts with prefix (recursively). A failure throws: never an empty list. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Removes an object; removing a missing object is not an error. */
  delete(name: string): Promise<void>;
  /** Size and time of an object, or null when there is none. */
  stat(name: string): Promise<ObjectInfo | null>;
  /**
   * Makes the location exist where the store will not make it on the first write (an S3
   * bucket). Only `repo init` calls it: every other command fails on a missing location, so a
   * mistyped one never turns into a new, empty repository.
   */
  prepare?(): Promise<void>;
  /** Size and free space of the store where the back-end can tell (a filesystem); absent or null where it cannot (S3, FTP). */
  space?(): Promise<TargetSpace | null>;
  close(): Promise<void>;
}
