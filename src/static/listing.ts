/** The HTML page of a directory listing (--static-listing). */
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A listing of `entries` for the directory at URL path `urlPath` (ending
 * in '/'): directories first, then files, each sorted by name; links are
 * percent-encoded, text is HTML-escaped.
 */
export function listingPage(urlPath: string, entries: Array<[string, 'file' | 'directory' | 'other']>): Buffer {
  const sorted = [...entries].sort((a, b) => (a[1] === 'directory' ? 0 : 1) - (b[1] === 'directory' ? 0 : 1) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const title = escapeHtml(urlPath);
  const rows = sorted.map(([name, kind]) => {
    const shown = kind === 'directory' ? `${name}/` : name;
    return `<li><a href="${encodeURIComponent(name)}${kind === 'directory' ? '/' : ''}">${escapeHtml(shown)}</a></li>`;
  });
  const parent = urlPath === '/' ? '' : '<li><a href="../">../</a></li>';
  return Buffer.from(`<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Index of ${title}</title></head>\n`
    + `<body><h1>Index of ${title}</h1><ul>${parent}${rows.join('')}</ul></body></html>\n`);
}
