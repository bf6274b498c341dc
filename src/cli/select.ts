import type { InfoDictionary } from '../metainfo/torrent.js';
import type { Priority } from '../picker/picker.js';
import { CliError } from './errors.js';

/** A glob: `*` and `?` within one path element, `**` across elements. */
function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * File priorities for `--select`: each value is a comma-separated list of file indexes (`0`,
 * `2-4`, as `bttkit info` lists the files, from 0) and/or globs matched against the file's path
 * in the torrent (`*.mkv`, `season1/**`; a glob without `/` also matches the base name).
 * Selected files get priority 1, the others 0. Padding files are never selected.
 * @throws {CliError} `CLI_BAD_SELECT` for an index out of range or a glob that matches no file.
 */
export function selectPriorities(info: InfoDictionary, values: readonly string[]): Priority[] {
  const files = info.files;
  const chosen = new Set<number>();
  for (const token of values.flatMap((v) => v.split(',')).map((v) => v.trim())) {
    if (token === '') continue;
    const range = /^(\d+)(?:-(\d+))?$/.exec(token);
    if (range) {
      const from = Number(range[1]);
      const to = Number(range[2] ?? range[1]);
      if (from > to || to >= files.length)
        throw new CliError(
          'CLI_BAD_SELECT',
          `--select ${token}: the torrent has files 0 to ${files.length - 1}`,
        );
      for (let i = from; i <= to; i++) chosen.add(i);
      continue;
    }
    const re = globRegExp(token);
    const base = !token.includes('/');
    let hit = false;
    files.forEach((f, i) => {
      if (f.padding) return;
      const name = f.segments[f.segments.length - 1] ?? f.path;
      if (re.test(f.path) || (base && re.test(name))) {
        chosen.add(i);
        hit = true;
      }
    });
    if (!hit) throw new CliError('CLI_BAD_SELECT', `--select ${token}: no file of the torrent matches`);
  }
  return files.map((f, i) => (chosen.has(i) && !f.padding ? 1 : 0) as Priority);
}

/** Bytes of the selected files. */
export function selectedBytes(info: InfoDictionary, priorities: readonly Priority[]): number {
  return info.files.reduce((n, f, i) => n + ((priorities[i] ?? 0) > 0 ? f.length : 0), 0);
}
