// File-level restore: browse and copy out files of a backup's guest filesystems without a
// restore and without mounting anything on the host — libguestfs's appliance VM parses the
// untrusted filesystems, reading the disks through an NBD export served from the repository.
export { openFileBrowser, type FileBrowser, type FileBrowserRequest } from './browser.ts';
export { listPath, statPath, copyOut, writeArchive, MAX_LISTED_ENTRIES, type FileEntry, type EntryType, type CopiedPath } from './browse.ts';
export { parseFilePath, formatFilePath, GUEST_ROOT, type Filesystem } from './filesystems.ts';
export { listBackupFiles, getBackupFiles, type FilesListing, type FilesRequest, type FilesGetRequest } from './restore-files.ts';
export { isKvmUsable, libguestfsEnv } from './accel.ts';
export { indexBackup, buildFileIndex, type IndexRequest, type IndexResult } from './build-index.ts';
export { DEFAULT_WALK_LIMITS, type WalkLimits } from './walk.ts';
export { globMatcher, groupVersions, backupSelected, DEFAULT_MAX_HITS, type FindQuery, type FoundFile, type FoundVersion, type FoundEntry, type IndexedBackupRef } from './find-files.ts';
export { findInRepository, type FindResult } from './find-in-repository.ts';
