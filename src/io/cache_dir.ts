import * as os from 'node:os';
import * as path from 'node:path';

/** The cache folder for downloads and converted weights: INCEPTION_HOME, else ~/.cache/inception-net. */
export function cacheDir(): string {
  return process.env.INCEPTION_HOME || path.join(os.homedir(), '.cache', 'inception-net');
}
