// Opening files that other processes or agents control (the inbox, the lock): only a regular file is opened, a
// symbolic link is not followed, and the open never blocks (a FIFO at the path would hang a plain open until
// someone wrote to it).

import * as fs from 'node:fs';
import { NotAFileError } from '../errors';

// Windows has neither flag; there a FIFO cannot appear under a plain name and links are rare.
const FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOFOLLOW ?? 0);

/** What is at a path, in words for a message: "a directory", "a FIFO", … */
export function fileKind(st: fs.Stats): string {
  if (st.isFile()) return 'a file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return 'a device';
}

/**
 * Opens `file` for reading when it is a regular file. Throws `NotAFileError` when it is anything else (checked on
 * the open descriptor, so a swap after a check cannot slip through), and the errno error (ENOENT …) otherwise.
 * The caller closes the returned descriptor.
 */
export function openRegularFile(file: string): { fd: number; stat: fs.Stats } {
  let fd: number;
  try {
    fd = fs.openSync(file, FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ELOOP: a symbolic link under O_NOFOLLOW; ENXIO: a socket (or a FIFO on some systems).
    if (code === 'ELOOP' || code === 'ENXIO') {
      const st = lstatOrUndefined(file);
      if (st && !st.isFile()) throw new NotAFileError(file, fileKind(st));
    }
    throw err;
  }
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new NotAFileError(file, fileKind(stat));
  }
  return { fd, stat };
}

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch {
    return undefined;
  }
}
