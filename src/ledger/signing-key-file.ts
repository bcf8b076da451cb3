import { NoteKeyError, parsePrivateKey } from '@audit/ledger';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * The checkpoint signing key kept in a file outside the database (AUDIT_SIGNING_KEY_FILE): one
 * line, the note private key `PRIVATE+KEY+<name>+<hash>+<base64>`, readable by its owner alone.
 */

/** A signing key file that must not be used; the message names the file, never its content. */
export class SigningKeyFileError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SigningKeyFileError';
  }
}

// Permission bits for anyone but the owner: reading the key signs checkpoints in the log's name,
// writing it swaps the deployment's key.
const GROUP_OR_OTHERS = 0o077;

/**
 * The private key text in `path`, or null when there is no such file. Refuses (SigningKeyFileError)
 * anything but a regular file, a file its group or others may read or write (Windows has no such
 * bits and is not checked), and a file that does not hold exactly one valid note private key
 * (surrounding whitespace allowed).
 */
export async function readKeyFile(path: string): Promise<string | null> {
  return readSecretFile(path, 'signing key file', (text) => {
    try {
      parsePrivateKey(text);
      return null;
    } catch (e) {
      if (!(e instanceof NoteKeyError)) throw e;
      // NoteKeyError's message never quotes the key text.
      return `does not hold a note private key (PRIVATE+KEY+<name>+<hash>+<base64>): ${e.message}`;
    }
  });
}

/**
 * The trimmed text of the secret file `path` (`what` names it in messages), or null when there is
 * no such file; refused as readKeyFile says, `problem` saying what is wrong with the text (null:
 * nothing). Messages never quote the text.
 */
export async function readSecretFile(
  path: string,
  what: string,
  problem: (text: string) => string | null,
): Promise<string | null> {
  let handle;
  try {
    // O_NOFOLLOW: the check below is of the file read, not of a link's target chosen by someone else.
    handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP')
      throw new SigningKeyFileError(`the ${what} ${path} is a symbolic link; refusing it`, { cause: e });
    throw new SigningKeyFileError(`the ${what} ${path} cannot be opened (${code ?? 'unknown error'})`, {
      cause: e,
    });
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new SigningKeyFileError(`the ${what} ${path} is not a regular file`);
    if (process.platform !== 'win32' && (stats.mode & GROUP_OR_OTHERS) !== 0) {
      throw new SigningKeyFileError(
        `the ${what} ${path} has mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}: ` +
          `its group or others may read or change it. Run \`chmod 600 ${path}\` and start again`,
      );
    }
    const text = (await handle.readFile('utf8')).trim();
    const wrong = problem(text);
    if (wrong !== null) throw new SigningKeyFileError(`the ${what} ${path} ${wrong}`);
    return text;
  } finally {
    await handle.close();
  }
}

/**
 * Writes `privateKey` to `path` (mode 0600; its directory created, mode 0700, when missing) unless
 * the file exists. Returns false when it existed: another process of the deployment, starting at
 * the same time, wrote its key first, and that file is the one to read. The key is written to a
 * temporary file beside it and linked into place, which fails when `path` exists, so no process
 * ever reads a half-written key and two processes never end with two keys.
 */
export async function createKeyFile(path: string, privateKey: string): Promise<boolean> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(`${privateKey}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await syncDirectory(dir);
  return true;
}

/** Makes the new name durable (a crash right after start must not lose the key); best effort. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms (Windows) cannot open or sync a directory; the file itself was synced.
  }
}
