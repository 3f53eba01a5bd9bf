// Generated corpus of raw HTTP/1.1 requests for the differential test
// (test/differential.test.ts): valid requests and mutations of every rule of
// docs/http-parser.md. Deterministic: same labels and bytes on every run.
// Each label is unique; the differential test's allow-list is keyed by label.

export interface ParserLimits {
  maxRequestLine?: number;
  maxHeaderBytes?: number;
  maxHeaders?: number;
}

export interface CorpusEntry {
  label: string;
  bytes: Buffer;
  /** limits for forkserve's parser (defaults when absent) */
  limits?: ParserLimits;
  /** maxHeaderSize of the node:http server to compare with (default: large) */
  nodeMaxHeaderSize?: number;
}

const CRLF = '\r\n';

/** Returns a Buffer of the latin1 string s (each char one byte). */
function b(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Returns a request head from its request line and field lines (CRLF ends). */
function head(line: string, fields: string[]): string {
  return line + CRLF + fields.map((f) => f + CRLF).join('') + CRLF;
}

/** Returns the byte as a printable label part, e.g. 0x7f. */
function hex(c: number): string {
  return '0x' + c.toString(16).padStart(2, '0');
}

// Bytes that must never appear unescaped in a request-target, a token or a
// field value (with the classes they stand for).
const CTL_BYTES = [0x00, 0x01, 0x08, 0x0b, 0x0c, 0x0e, 0x1b, 0x1f, 0x7f];
const HIGH_BYTES = [0x80, 0xa0, 0xc3, 0xff];
const TOKEN_SEPARATORS = '"(),/:;<=>?@[\\]{} \t';

export function generateCorpus(): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  const seen = new Set<string>();
  const add = (label: string, bytes: Buffer | string, extra: Partial<CorpusEntry> = {}) => {
    if (seen.has(label)) throw new Error(`duplicate corpus label ${label}`);
    seen.add(label);
    out.push({ label, bytes: typeof bytes === 'string' ? b(bytes) : bytes, ...extra });
  };

  // ---- valid requests ------------------------------------------------------
  const H = 'Host: example.com';
  add('valid/minimal', head('GET / HTTP/1.1', ['Host: a']));
  add('valid/browser', head('GET /index.html?q=1&r=%20x HTTP/1.1', [
    H, 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'Accept-Language: en-US,en;q=0.9',
    'Accept-Encoding: gzip, deflate, br', 'Cookie: a=1; b=2; session="x y"', 'Connection: keep-alive',
    'Upgrade-Insecure-Requests: 1', 'Sec-Fetch-Mode: navigate', 'Cache-Control: max-age=0']));
  add('valid/http10-no-host', head('GET / HTTP/1.0', []));
  add('valid/http10-host', head('GET / HTTP/1.0', [H]));
  add('valid/http10-keep-alive', head('GET / HTTP/1.0', ['Connection: keep-alive']));
  add('valid/post-length', head('POST /submit HTTP/1.1', [H, 'Content-Length: 11']) + 'hello world');
  add('valid/post-length-0', head('POST /submit HTTP/1.1', [H, 'Content-Length: 0']));
  add('valid/post-length-binary', Buffer.concat([b(head('POST / HTTP/1.1', [H, 'Content-Length: 6'])), Buffer.from([0, 1, 0x80, 0xff, 13, 10])]));
  add('valid/put-chunked', head('PUT /f HTTP/1.1', [H, 'Transfer-Encoding: chunked']) + '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
  add('valid/chunked-empty', head('POST / HTTP/1.1', [H, 'Transfer-Encoding: chunked']) + '0\r\n\r\n');
  add('valid/options-asterisk', head('OPTIONS * HTTP/1.1', [H]));
  add('valid/options-origin', head('OPTIONS /x HTTP/1.1', [H]));
  add('valid/connect', head('CONNECT example.com:443 HTTP/1.1', ['Host: example.com:443']));
  add('valid/absolute-form', head('GET http://example.com/a?b HTTP/1.1', [H]));
  add('valid/absolute-form-https', head('GET https://example.com:8443/ HTTP/1.1', ['Host: example.com:8443']));
  add('valid/leading-crlf', CRLF + head('GET / HTTP/1.1', [H]));
  add('valid/pipelined', head('GET /1 HTTP/1.1', [H]) + head('GET /2 HTTP/1.1', [H]));
  add('valid/expect-continue', head('POST / HTTP/1.1', [H, 'Expect: 100-continue', 'Content-Length: 2']) + 'ok');
  add('valid/connection-close', head('GET / HTTP/1.1', [H, 'Connection: close']));
  add('valid/many-headers-50', head('GET / HTTP/1.1', [H, ...Array.from({ length: 49 }, (_, i) => `X-H${i}: v${i}`)]));
  add('valid/empty-value', head('GET / HTTP/1.1', [H, 'X-Empty:']));
  add('valid/ows-trim', head('GET / HTTP/1.1', [H, 'X-A:   spaced   ', 'X-B:\ttabbed\t']));
  add('valid/duplicate-headers', head('GET / HTTP/1.1', [H, 'X-Dup: 1', 'X-Dup: 2', 'Cookie: a', 'Cookie: b']));
  add('valid/mixed-case-names', head('GET / HTTP/1.1', ['hOsT: a', 'CONTENT-length: 0', 'x-Lower: 1']));
  add('valid/value-separators', head('GET / HTTP/1.1', [H, 'X: "q";a=b,(c)<d>@e[f]\\g{h}?/=']));
  add('valid/name-tchar-specials', head('GET / HTTP/1.1', [H, "!#$%&'*+-.^_`|~: x"]));
  add('valid/target-all-visible', head('GET /!$&\'()*+,;=:@-._~%20?q=/?[]{}|^`"<>\\ HTTP/1.1', [H]));
  add('valid/utf8-value', b(head('GET / HTTP/1.1', [H, 'X-Name: caf\xc3\xa9'])));
  add('valid/obs-text-value', b(head('GET / HTTP/1.1', [H, 'X-Name: \x80\xa0\xff'])));

  // ---- methods ---------------------------------------------------------------
  for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PURGE', 'PROPFIND',
    'MKCOL', 'REPORT', 'SEARCH', 'LINK', 'QUERY', 'BREW', 'get', 'Get', 'FOO', 'X-CUSTOM', 'M-SEARCH', 'A', "!#$%&'*+-.^_`|~"]) {
    add(`method/${m}`, head(`${m} / HTTP/1.1`, [H]));
  }
  for (const c of [...CTL_BYTES, ...HIGH_BYTES, ...TOKEN_SEPARATORS.split('').map((s) => s.charCodeAt(0))]) {
    if (c === 0x20) continue;
    add(`method/bad-byte-${hex(c)}`, b(head(`GE${String.fromCharCode(c)}T / HTTP/1.1`, [H])));
  }
  add('method/empty', head(' / HTTP/1.1', [H]));
  add('method/double-space', head('GET  / HTTP/1.1', [H]));
  add('method/tab-separator', head('GET\t/ HTTP/1.1', [H]));
  add('method/only', 'GET\r\n\r\n');

  // ---- request-target ----------------------------------------------------------
  for (const c of [...CTL_BYTES, 0x09, ...HIGH_BYTES]) {
    add(`target/bad-byte-${hex(c)}-middle`, b(head(`GET /a${String.fromCharCode(c)}b HTTP/1.1`, [H])));
    add(`target/bad-byte-${hex(c)}-end`, b(head(`GET /a${String.fromCharCode(c)} HTTP/1.1`, [H])));
  }
  add('target/space-inside', head('GET /a b HTTP/1.1', [H]));
  add('target/double-space-after', head('GET /  HTTP/1.1', [H]));
  add('target/cr-inside', head('GET /a\rb HTTP/1.1', [H]));
  add('target/lf-inside', head('GET /a\nb HTTP/1.1', [H]));
  add('target/empty', head('GET  HTTP/1.1', [H]));
  for (const [name, t] of [['query', '/p?a=1&b=2'], ['percent', '/%7E%2F'], ['fragment', '/a#frag'], ['double-slash', '//a//b'],
    ['dot-segments', '/a/../b/./c'], ['long-path', '/' + 'seg/'.repeat(200)], ['colon-path', '/a:b'], ['at-path', '/@x'],
    ['question-only', '/?'], ['brackets', '/[x]']] as const) {
    add(`target/origin-${name}`, head(`GET ${t} HTTP/1.1`, [H]));
  }
  for (const [name, t] of [['http', 'http://example.com/'], ['no-path', 'http://example.com'], ['port', 'http://example.com:8080/x'],
    ['upper-scheme', 'HTTP://example.com/'], ['scheme-plus', 'a+b.c-d://x/'], ['ipv6', 'http://[::1]:8080/'],
    ['userinfo', 'http://u:p@example.com/'], ['query', 'http://example.com/?q']] as const) {
    add(`target/absolute-${name}`, head(`GET ${t} HTTP/1.1`, [H]));
  }
  for (const [name, t] of [['single-slash', 'http:/x'], ['scheme-only', 'http:'], ['digit-scheme', '1http://x/'], ['bare-word', 'foo'],
    ['query-first', '?x'], ['relative', 'a/b'], ['dot', '.'], ['hash-first', '#x']] as const) {
    add(`target/bad-${name}`, head(`GET ${t} HTTP/1.1`, [H]));
  }
  add('target/asterisk-get', head('GET * HTTP/1.1', [H]));
  add('target/asterisk-post', head('POST * HTTP/1.1', [H, 'Content-Length: 0']));
  add('target/asterisk-x-options', head('OPTIONS *x HTTP/1.1', [H]));
  add('target/authority-get', head('GET example.com:80 HTTP/1.1', [H]));
  for (const [name, t] of [['ipv6', '[::1]:443'], ['ip', '127.0.0.1:80'], ['no-port', 'example.com'], ['empty-port', 'example.com:'],
    ['empty-host', ':443'], ['origin', '/x'], ['userinfo', 'u@h:80'], ['absolute', 'http://h:80/'], ['port-letters', 'h:8a'],
    ['asterisk', '*']] as const) {
    add(`target/connect-${name}`, head(`CONNECT ${t} HTTP/1.1`, ['Host: h:80']));
  }

  // ---- HTTP-version ------------------------------------------------------------
  for (const v of ['HTTP/1.0', 'HTTP/1.1', 'HTTP/1.2', 'HTTP/1.9', 'HTTP/0.9', 'HTTP/2.0', 'HTTP/3.0', 'HTTP/9.9', 'HTTP/0.0',
    'HTTP/1', 'HTTP/2', 'HTTP/1.10', 'HTTP/11', 'HTTP/10.0', 'http/1.1', 'Http/1.1', 'HTTP/1.1x', 'HTTP/1.x', 'HTTP/2.0x',
    'HTTP /1.1', 'HTTPS/1.1', 'HTTP/1.1 ', 'HTTP/', 'HTTP', '1.1', 'HTTP/1.01', 'HTTP/+1.1', 'HTTP/1.-1']) {
    add(`version/${v.replace(/ /g, '_')}`, head(`GET / ${v}`, [H]));
  }
  add('version/missing', 'GET /\r\nHost: a\r\n\r\n');
  add('version/missing-after-space', 'GET / \r\nHost: a\r\n\r\n');
  add('version/nul', b('GET / HTTP/1\x00.1\r\nHost: a\r\n\r\n'));

  // ---- line endings ------------------------------------------------------------
  const base = head('POST /le HTTP/1.1', [H, 'Content-Length: 3', 'X-A: b']) + 'xyz';
  const crlfPositions: number[] = [];
  for (let i = base.indexOf(CRLF); i >= 0 && i < base.length - 3; i = base.indexOf(CRLF, i + 2)) crlfPositions.push(i);
  crlfPositions.forEach((pos, n) => {
    const swap = (rep: string) => base.slice(0, pos) + rep + base.slice(pos + 2);
    add(`eol/line${n}-bare-lf`, swap('\n'));
    add(`eol/line${n}-bare-cr`, swap('\r'));
    add(`eol/line${n}-cr-cr-lf`, swap('\r\r\n'));
    add(`eol/line${n}-lf-cr`, swap('\n\r'));
  });
  add('eol/all-bare-lf', base.replace(/\r\n/g, '\n'));
  add('eol/leading-8-crlf', CRLF.repeat(8) + head('GET / HTTP/1.1', [H]));
  add('eol/leading-9-crlf', CRLF.repeat(9) + head('GET / HTTP/1.1', [H]));
  add('eol/leading-bare-lf', '\n' + head('GET / HTTP/1.1', [H]));
  add('eol/leading-bare-cr', '\r' + head('GET / HTTP/1.1', [H]));
  add('eol/final-cr-junk', 'GET / HTTP/1.1\r\nHost: a\r\n\rX');

  // ---- field names ---------------------------------------------------------------
  for (const c of [...CTL_BYTES, ...HIGH_BYTES, ...TOKEN_SEPARATORS.split('').map((s) => s.charCodeAt(0))]) {
    if (c === 0x3a) continue; // ':' ends the name
    const ch = String.fromCharCode(c);
    add(`name/bad-byte-${hex(c)}-middle`, b(head('GET / HTTP/1.1', [H, `X${ch}Y: v`])));
    add(`name/bad-byte-${hex(c)}-first`, b(head('GET / HTTP/1.1', [H, `${ch}XY: v`])));
  }
  add('name/space-before-colon', head('GET / HTTP/1.1', [H, 'X-A : v']));
  add('name/tab-before-colon', head('GET / HTTP/1.1', [H, 'X-A\t: v']));
  add('name/host-space-before-colon', head('GET / HTTP/1.1', ['Host : a']));
  add('name/empty', head('GET / HTTP/1.1', [H, ': v']));
  add('name/no-colon', head('GET / HTTP/1.1', [H, 'NoColon']));
  add('name/no-colon-space', head('GET / HTTP/1.1', [H, 'No Colon']));
  add('name/obs-fold', head('GET / HTTP/1.1', [H, 'X-A: a', ' folded']));
  add('name/obs-fold-tab', head('GET / HTTP/1.1', [H, 'X-A: a', '\tfolded']));
  add('name/space-before-first', 'GET / HTTP/1.1\r\n Host: a\r\n\r\n');
  add('name/long-4000', head('GET / HTTP/1.1', [H, 'X'.repeat(4000) + ': v']));

  // ---- field values ----------------------------------------------------------------
  for (const c of [...CTL_BYTES, 0x09, 0x0d, 0x0a, ...HIGH_BYTES, 0x20, 0x22, 0x5c, 0x7e]) {
    const ch = String.fromCharCode(c);
    add(`value/byte-${hex(c)}-middle`, b(head('GET / HTTP/1.1', [H, `X-V: a${ch}b`])));
    add(`value/byte-${hex(c)}-start`, b(head('GET / HTTP/1.1', [H, `X-V: ${ch}b`])));
    add(`value/byte-${hex(c)}-end`, b(head('GET / HTTP/1.1', [H, `X-V: a${ch}`])));
  }
  add('value/host-with-nul', b(head('GET / HTTP/1.1', ['Host: a\x00b'])));
  add('value/long-8000', head('GET / HTTP/1.1', [H, 'X-Long: ' + 'v'.repeat(8000)]));

  // ---- Host ------------------------------------------------------------------------
  add('host/missing-1.1', head('GET / HTTP/1.1', ['X: y']));
  add('host/missing-1.1-post', head('POST / HTTP/1.1', ['Content-Length: 0']));
  add('host/two-1.1', head('GET / HTTP/1.1', ['Host: a', 'Host: b']));
  add('host/two-same-1.1', head('GET / HTTP/1.1', ['Host: a', 'Host: a']));
  add('host/two-1.0', head('GET / HTTP/1.0', ['Host: a', 'host: b']));
  add('host/empty', head('GET / HTTP/1.1', ['Host:']));
  add('host/upper', head('GET / HTTP/1.1', ['HOST: a']));
  add('host/with-port', head('GET / HTTP/1.1', ['Host: a:8080']));
  add('host/missing-1.2', head('GET / HTTP/1.2', []));

  // ---- Content-Length --------------------------------------------------------------
  const post = (fields: string[], body = '') => head('POST /cl HTTP/1.1', [H, ...fields]) + body;
  add('cl/5', post(['Content-Length: 5'], 'hello'));
  add('cl/leading-zeros', post(['Content-Length: 005'], 'hello'));
  add('cl/ows', post(['Content-Length: \t5 '], 'hello'));
  add('cl/list-equal', post(['Content-Length: 5, 5'], 'hello'));
  add('cl/two-fields-equal', post(['Content-Length: 5', 'Content-Length: 5'], 'hello'));
  add('cl/two-fields-differ', post(['Content-Length: 5', 'Content-Length: 6'], 'hello!'));
  add('cl/list-differ', post(['Content-Length: 5, 6'], 'hello!'));
  add('cl/list-empty-element', post(['Content-Length: 5,'], 'hello'));
  add('cl/max-int63', post(['Content-Length: 9223372036854775807']));
  add('cl/overflow-2^63', post(['Content-Length: 9223372036854775808'], 'x'));
  add('cl/overflow-2^64', post(['Content-Length: 18446744073709551616'], 'x'));
  add('cl/overflow-long', post(['Content-Length: 99999999999999999999999'], 'x'));
  for (const [name, v] of [['letters', 'abc'], ['negative', '-1'], ['plus', '+1'], ['empty', ''], ['space-inside', '1 2'],
    ['hex', '0x10'], ['decimal', '5.0'], ['trailing-letter', '5a'], ['quoted', '"5"']] as const) {
    add(`cl/bad-${name}`, post([`Content-Length: ${v}`], 'hello'));
  }
  add('cl/get-with-body', head('GET / HTTP/1.1', [H, 'Content-Length: 3']) + 'abc');
  add('cl/http10', head('POST / HTTP/1.0', ['Content-Length: 3']) + 'abc');
  add('cl/incomplete-body', post(['Content-Length: 10'], 'short'));
  add('cl/body-then-pipelined', post(['Content-Length: 3'], 'abc') + head('GET /next HTTP/1.1', [H]));

  // ---- Transfer-Encoding ---------------------------------------------------------
  const te = (values: string[], body = '0\r\n\r\n', extra: string[] = []) =>
    head('POST /te HTTP/1.1', [H, ...values.map((v) => `Transfer-Encoding: ${v}`), ...extra]) + body;
  add('te/chunked', te(['chunked'], '3\r\nabc\r\n0\r\n\r\n'));
  add('te/chunked-upper', te(['CHUNKED'], '3\r\nabc\r\n0\r\n\r\n'));
  add('te/chunked-mixed', te(['ChUnKeD'], '3\r\nabc\r\n0\r\n\r\n'));
  add('te/empty-elements', te([', chunked,'], '3\r\nabc\r\n0\r\n\r\n'));
  add('te/chunked-ows', te(['  chunked  '], '3\r\nabc\r\n0\r\n\r\n'));
  for (const [name, v] of [['gzip-chunked', ['gzip, chunked']], ['deflate-chunked', ['deflate, chunked']], ['compress-chunked', ['compress, chunked']],
    ['x-gzip-chunked', ['x-gzip, chunked']], ['identity-chunked', ['identity, chunked']], ['unknown-chunked', ['x-custom, chunked']],
    ['gzip-params-chunked', ['gzip;level=1, chunked']], ['gzip-field-chunked-field', ['gzip', 'chunked']]] as const) {
    add(`te/${name}`, te([...v]));
  }
  for (const [name, v] of [['gzip', ['gzip']], ['identity', ['identity']], ['chunked-gzip', ['chunked, gzip']], ['chunked-chunked', ['chunked, chunked']],
    ['chunked-twice-fields', ['chunked', 'chunked']], ['chunked-param', ['chunked;q=1']], ['empty', ['']], ['chu-nked', ['chu nked']],
    ['quoted', ['"chunked"']], ['chunkedx', ['chunkedx']], ['xchunked', ['xchunked']], ['chunked-field-gzip-field', ['chunked', 'gzip']]] as const) {
    add(`te/${name}`, te([...v]));
  }
  add('te/with-cl', te(['chunked'], '0\r\n\r\n', ['Content-Length: 5']));
  add('te/cl-first', head('POST / HTTP/1.1', [H, 'Content-Length: 5', 'Transfer-Encoding: chunked']) + '0\r\n\r\n');
  add('te/with-bad-cl', te(['chunked'], '0\r\n\r\n', ['Content-Length: x']));
  add('te/with-cl-0', te(['chunked'], '0\r\n\r\n', ['Content-Length: 0']));
  add('te/http10', head('POST / HTTP/1.0', ['Transfer-Encoding: chunked']) + '0\r\n\r\n');
  add('te/gzip-with-cl', te(['gzip'], 'hello', ['Content-Length: 5']));

  // ---- chunked bodies --------------------------------------------------------------
  const chunked = (body: string) => te(['chunked'], body);
  const bodies: [string, string][] = [
    ['one', '5\r\nhello\r\n0\r\n\r\n'], ['two', '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'], ['hex-upper', 'A\r\n0123456789\r\n0\r\n\r\n'],
    ['hex-lower', 'a\r\n0123456789\r\n0\r\n\r\n'], ['leading-zeros', '0005\r\nhello\r\n0\r\n\r\n'], ['data-crlf', '4\r\n\r\n\r\n\r\n0\r\n\r\n'],
    ['ext-name', '5;foo\r\nhello\r\n0\r\n\r\n'], ['ext-token', '5;name=value\r\nhello\r\n0\r\n\r\n'],
    ['ext-quoted', '5;a="q \\" ;x"\r\nhello\r\n0\r\n\r\n'], ['ext-two', '5;a;b=c\r\nhello\r\n0;z=1\r\n\r\n'],
    ['ext-bws', '5 ; a = b\r\nhello\r\n0\r\n\r\n'], ['trailer', '5\r\nhello\r\n0\r\nX-T: v\r\n\r\n'],
    ['trailers-two', '5\r\nhello\r\n0\r\nA: 1\r\nB: 2\r\n\r\n'], ['pipelined', '1\r\nx\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['many-small', '1\r\na\r\n'.repeat(50) + '0\r\n\r\n'], ['big-chunk', '400\r\n' + 'z'.repeat(1024) + '\r\n0\r\n\r\n'],
    ['bad-overflow-2^63', '8000000000000000\r\nx\r\n0\r\n\r\n'], ['bad-overflow-17-digits', '10000000000000000\r\nx\r\n0\r\n\r\n'],
    ['bad-overflow-2^64', 'ffffffffffffffff\r\nx\r\n0\r\n\r\n'],
    ['bad-no-size', '\r\nhello\r\n0\r\n\r\n'], ['bad-not-hex', 'x\r\nhello\r\n0\r\n\r\n'], ['bad-0x', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['bad-negative', '-1\r\nhello\r\n0\r\n\r\n'], ['bad-ext-no-size', ';a\r\nhello\r\n0\r\n\r\n'], ['bad-space-before-size', ' 5\r\nhello\r\n0\r\n\r\n'],
    ['bad-bws-crlf', '5 \r\nhello\r\n0\r\n\r\n'], ['bad-empty-ext', '5;\r\nhello\r\n0\r\n\r\n'], ['bad-empty-ext-value', '5;a=\r\nhello\r\n0\r\n\r\n'],
    ['bad-ext-unterminated', '5;a="x\r\nhello\r\n0\r\n\r\n'], ['bad-ext-no-name', '5;=b\r\nhello\r\n0\r\n\r\n'],
    ['bad-ext-two-words', '5;a=b c\r\nhello\r\n0\r\n\r\n'], ['bad-ext-ctl', '5;a=\x01\r\nhello\r\n0\r\n\r\n'],
    ['bad-size-bare-lf', '5\nhello\r\n0\r\n\r\n'], ['bad-size-cr', '5\rhello\r\n0\r\n\r\n'], ['bad-data-too-long', '5\r\nhelloX\r\n0\r\n\r\n'],
    ['bad-data-bare-lf', '5\r\nhello\n0\r\n\r\n'], ['bad-data-no-crlf', '5\r\nhello0\r\n\r\n'], ['bad-last-bare-lf', '0\n\r\n'],
    ['bad-final-bare-lf', '0\r\n\n'], ['bad-trailer-obs-fold', '0\r\nA: b\r\n c\r\n\r\n'], ['bad-trailer-no-colon', '0\r\nAb\r\n\r\n'],
    ['bad-trailer-space-colon', '0\r\nA : b\r\n\r\n'], ['bad-trailer-name', '0\r\nA(b: c\r\n\r\n'], ['bad-trailer-ctl', '0\r\nA: \x01\r\n\r\n'],
    ['bad-trailer-bare-lf', '0\r\nA: b\n\r\n'], ['incomplete-data', '5\r\nhel'], ['incomplete-no-last', '5\r\nhello\r\n'],
    ['incomplete-trailer', '0\r\nX: y\r\n'],
  ];
  for (const [name, body] of bodies) add(`chunked/${name}`, chunked(body));
  add('chunked/ext-long-5000', chunked('5;a=' + 'e'.repeat(5000) + '\r\nhello\r\n0\r\n\r\n'));

  // ---- Connection and Expect -----------------------------------------------------
  for (const [name, v] of [['close', 'close'], ['CLOSE', 'CLOSE'], ['keep-alive', 'keep-alive'], ['list-close', 'upgrade, close'],
    ['closed', 'closed'], ['empty', '']] as const) {
    add(`connection/${name}`, head('GET / HTTP/1.1', [H, `Connection: ${v}`]));
  }
  add('expect/100-continue', head('POST / HTTP/1.1', [H, 'Expect: 100-continue', 'Content-Length: 2']) + 'ok');
  add('expect/100-Continue-case', head('POST / HTTP/1.1', [H, 'Expect: 100-Continue', 'Content-Length: 2']) + 'ok');
  add('expect/http10', head('POST / HTTP/1.0', ['Expect: 100-continue', 'Content-Length: 2']) + 'ok');
  add('expect/other', head('GET / HTTP/1.1', [H, 'Expect: something']));

  // ---- limits ---------------------------------------------------------------------
  const line = (n: number) => `GET /${'a'.repeat(n - 16)} HTTP/1.1`; // n bytes with CRLF
  add('limits/line-at-64', head(line(64), ['Host: a']), { limits: { maxRequestLine: 64 } });
  add('limits/line-over-64', head(line(65), ['Host: a']), { limits: { maxRequestLine: 64 } });
  add('limits/line-at-default', head(line(8192), ['Host: a']));
  add('limits/line-over-default-far', head(line(40000), ['Host: a']), { nodeMaxHeaderSize: 16384 });
  add('limits/fields-at-11', head('GET / HTTP/1.1', ['Host: a']), { limits: { maxHeaderBytes: 11 } });
  add('limits/fields-over-10', head('GET / HTTP/1.1', ['Host: a']), { limits: { maxHeaderBytes: 10 } });
  add('limits/field-over-default-far', head('GET / HTTP/1.1', ['Host: a', 'X: ' + 'v'.repeat(40000)]), { nodeMaxHeaderSize: 16384 });
  add('limits/fields-count-at-3', head('GET / HTTP/1.1', ['Host: a', 'A: 1', 'B: 2']), { limits: { maxHeaders: 3 } });
  add('limits/fields-count-over-3', head('GET / HTTP/1.1', ['Host: a', 'A: 1', 'B: 2', 'C: 3']), { limits: { maxHeaders: 3 } });
  add('limits/fields-100', head('GET / HTTP/1.1', ['Host: a', ...Array.from({ length: 99 }, (_, i) => `X${i}: ${i}`)]));
  add('limits/fields-101', head('GET / HTTP/1.1', ['Host: a', ...Array.from({ length: 100 }, (_, i) => `X${i}: ${i}`)]));
  add('limits/trailer-over', chunked('0\r\nA: ' + 'v'.repeat(100) + '\r\n\r\n'), { limits: { maxHeaderBytes: 64 } });

  // ---- incomplete heads ----------------------------------------------------------
  const full = head('GET /inc HTTP/1.1', [H, 'X-A: b']);
  for (const n of [1, 3, 4, 9, 17, 18, 19, 30, full.length - 2, full.length - 1]) {
    add(`incomplete/prefix-${n}`, full.slice(0, n));
  }

  // ---- pseudo-random single-byte mutations of a valid request ----------------------
  // A fixed LCG: which byte is replaced, and by what, is the same on every run.
  let seed = 0x2545f491;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const victim = b(head('POST /m/x?y=1 HTTP/1.1', [H, 'Content-Length: 4', 'X-A: value', 'Connection: keep-alive']) + 'body');
  const interesting = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x3a, 0x3b, 0x7f, 0x80, 0xff, 0x41, 0x30];
  for (let i = 0; i < 60; i++) {
    const pos = rnd(victim.length - 4);
    const byte = interesting[rnd(interesting.length)];
    const m = Buffer.from(victim);
    m[pos] = byte;
    add(`mutate/${i}-pos${pos}-${hex(byte)}`, m);
  }

  return out;
}
