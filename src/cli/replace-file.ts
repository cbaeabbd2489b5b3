import { createWriteStream } from 'node:fs';
import { lstat, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';

/** The output file could not be written (a missing directory, a full disk): not the source's failure. */
export class OutputFileError extends Error {
  constructor(
    readonly path: string,
    override readonly cause: unknown,
    /** The file written beside `path`, named in the system's message as `path` itself: the operator's. */
    besides?: string,
  ) {
    const said = cause instanceof Error ? cause.message : String(cause);
    super(`cannot write ${path}: ${besides === undefined ? said : said.split(besides).join(path)}`);
    this.name = 'OutputFileError';
  }
}

/**
 * Whether `path` names something other than a regular file that must be written in place: a device, a
 * FIFO, or a symlink (`/dev/stdout` is one; renaming over it would replace the link, not write through it).
 */
async function isSpecialFile(path: string): Promise<boolean> {
  try {
    const info = await lstat(path);
    return !info.isFile();
  } catch {
    return false;
  }
}

/**
 * Writes `source` to `path` so that a failure midway — Redis lost halfway through an export, a full
 * disk, the process killed — leaves what was at `path` (the last good export, say) as it was: written
 * beside it and renamed over it once whole, so nobody reads a half-written file under its name either.
 * A path that is no regular file (`/dev/stdout`, a FIFO, a symlink) is written in place: it cannot be replaced.
 * A failure of the file is thrown as OutputFileError, one of the source as itself.
 */
export async function writeReplacing(
  path: string,
  source: AsyncIterable<string> | Iterable<string>,
): Promise<void> {
  const inPlace = await isSpecialFile(path);
  const target = inPlace ? path : join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const file = createWriteStream(target);
  // pipeline destroys the file with the source's error too, so the file's own 'error' cannot tell
  // them apart: the source's is caught where it is thrown.
  let sourceFailed = false;
  const reading = async function* () {
    try {
      yield* source;
    } catch (err) {
      sourceFailed = true;
      throw err;
    }
  };
  try {
    // pipeline rejects on the file's errors, where a write stream left without an error listener
    // would end the process with a stack.
    await pipeline(reading, file);
  } catch (err) {
    if (!inPlace) await rm(target, { force: true }).catch(() => undefined);
    throw sourceFailed ? err : new OutputFileError(path, err, target);
  }
  if (inPlace) return;
  try {
    await rename(target, path);
  } catch (err) {
    await rm(target, { force: true }).catch(() => undefined);
    throw new OutputFileError(path, err, target);
  }
}
