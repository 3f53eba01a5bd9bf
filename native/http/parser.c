/*
 * HTTP/1.1 request parser (RFC 9112, RFC 9110). See parser.h for the contract
 * and docs/http-parser.md for every rule and deliberate choice.
 *
 * Shape: a stateless head parser made of small helpers, each parsing one
 * thing and returning the position after it, or NULL with *ret set to
 * HP_INCOMPLETE or HP_ERROR (and *status). Bytes are classified with 256-entry
 * tables; nothing allocates and nothing reads at or past the end of the input.
 */
#include "http/parser.h"

#include <string.h>

const hp_limits hp_default_limits = {8192, 16384, 100};

/* At most this many empty lines may precede a request line (RFC 9112 §2.2). */
#define HP_MAX_EMPTY_LINES 8
/* Bound on a chunk-size line including its extensions (RFC 9112 §7.1.1). */
#define HP_MAX_CHUNK_LINE 4096
/* Largest Content-Length or chunk size accepted: 2^63-1. */
#define HP_MAX_LENGTH UINT64_C(0x7fffffffffffffff)

/* ---- byte classes -------------------------------------------------------- */

/* tchar (RFC 9110 §5.6.2): ALPHA DIGIT and !#$%&'*+-.^_`|~ */
static const unsigned char tchar_tab[256] = {
    /* 0x00-0x1f: CTLs */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /*  SP !  "  #  $  %  &  '  (  )  *  +  ,  -  .  /  */
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0,
    /*  0-9                           :  ;  <  =  >  ?  */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    /*  @  A-O */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /*  P-Z                           [  \  ]  ^  _  */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1,
    /*  `  a-o */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /*  p-z                           {  |  }  ~  DEL */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,
    /* 0x80-0xff: never in a token */
};

/* Request-target bytes: visible ASCII 0x21-0x7E (RFC 9112 §3.2; RFC 3986). */
static const unsigned char target_tab[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 CTLs */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 CTLs */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 SP excluded */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70 DEL excluded */
    /* 0x80-0xff: not allowed in a target */
};

/* field-value bytes: HTAB, SP, VCHAR, obs-text 0x80-0xFF (RFC 9110 §5.5). */
static const unsigned char value_tab[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, /* 0x00 only HTAB */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 SP and up */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70 DEL excluded */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x80 obs-text */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Returns c lower-cased if it is an ASCII capital (names are
 * case-insensitive, RFC 9110 §5.1). */
static inline unsigned char ascii_lower(unsigned char c) {
  return (unsigned char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
}

/* ---- small helpers ------------------------------------------------------- */

/* A scanning window: bytes before lim may be read. Reaching lim means the
 * input is incomplete (over == 0) or that a size limit was exceeded (over is
 * then the status to answer: 414 or 431). */
typedef struct {
  const char *lim;
  int over;
} scan_win;

/* Returns the window for an item starting at start that may be at most max
 * bytes long, given that the input ends at end. */
static scan_win make_win(const char *start, const char *end, size_t max, int over) {
  scan_win w;
  /* If max bytes are here and the item has not ended within them, it is
   * longer than max: the limit is decided without waiting for more. */
  if ((size_t)(end - start) >= max) {
    w.lim = start + max;
    w.over = over;
  } else {
    w.lim = end;
    w.over = 0;
  }
  return w;
}

/* Returns NULL after setting *ret to HP_ERROR and *status to st. */
static const char *fail(int *ret, int *status, int st) {
  *ret = HP_ERROR;
  *status = st;
  return NULL;
}

/* Returns NULL after recording that the scan ran off window w: incomplete,
 * or the window's limit status. */
static const char *ran_off(const scan_win *w, int *ret, int *status) {
  if (w->over) return fail(ret, status, w->over);
  *ret = HP_INCOMPLETE;
  return NULL;
}

/* Returns the first position in [p, lim) whose byte is not in tab, or lim. */
static inline const char *scan_class(const char *p, const char *lim,
                                     const unsigned char *tab) {
  /* Unrolled by 8: field values and targets are the bulk of a request. */
  while (lim - p >= 8) {
    if (!tab[(unsigned char)p[0]]) return p;
    if (!tab[(unsigned char)p[1]]) return p + 1;
    if (!tab[(unsigned char)p[2]]) return p + 2;
    if (!tab[(unsigned char)p[3]]) return p + 3;
    if (!tab[(unsigned char)p[4]]) return p + 4;
    if (!tab[(unsigned char)p[5]]) return p + 5;
    if (!tab[(unsigned char)p[6]]) return p + 6;
    if (!tab[(unsigned char)p[7]]) return p + 7;
    p += 8;
  }
  while (p < lim && tab[(unsigned char)*p]) p++;
  return p;
}

/* Returns 1 if s[0..n) equals the lower-case literal lit ignoring ASCII case. */
static int ieq(const char *s, size_t n, const char *lit, size_t lit_len) {
  if (n != lit_len) return 0;
  for (size_t i = 0; i < n; i++)
    if (ascii_lower((unsigned char)s[i]) != (unsigned char)lit[i]) return 0;
  return 1;
}
#define IEQ(s, n, lit) ieq((s), (n), lit, sizeof(lit) - 1)

/* Returns the position after a CRLF at p (within w), or NULL: a bare CR or a
 * bare LF is 400 (RFC 9112 §2.2: we do not accept a lone LF; see docs). */
static const char *parse_eol(const char *p, const scan_win *w, int *ret, int *status) {
  if (p == w->lim) return ran_off(w, ret, status);
  if (*p != '\r') return fail(ret, status, 400);
  p++;
  if (p == w->lim) return ran_off(w, ret, status);
  if (*p != '\n') return fail(ret, status, 400);
  return p + 1;
}

/* ---- request line -------------------------------------------------------- */

/* Returns the position after the leading empty lines (CRLF) that RFC 9112
 * §2.2 lets a server skip before a request line, or NULL (too many: 400). */
static const char *skip_empty_lines(const char *p, const char *end, int *ret, int *status) {
  for (int n = 0; p < end && (*p == '\r' || *p == '\n'); n++) {
    if (n == HP_MAX_EMPTY_LINES) return fail(ret, status, 400);
    if (*p == '\n') return fail(ret, status, 400); /* bare LF */
    if (p + 1 == end) {
      *ret = HP_INCOMPLETE;
      return NULL;
    }
    if (p[1] != '\n') return fail(ret, status, 400); /* bare CR */
    p += 2;
  }
  return p;
}

/* Returns the position after a token ended by delim (one SP), storing the
 * token, or NULL: empty token or a byte that is neither tchar nor delim. */
static const char *parse_token(const char *p, const scan_win *w, char delim,
                               const char **tok, size_t *tok_len, int *ret, int *status) {
  const char *start = p;
  p = scan_class(p, w->lim, tchar_tab);
  if (p == w->lim) return ran_off(w, ret, status);
  if (*p != delim || p == start) return fail(ret, status, 400);
  *tok = start;
  *tok_len = (size_t)(p - start);
  return p + 1;
}

/* Returns the position after the request-target and its trailing SP, or NULL.
 * Only visible ASCII is allowed (RFC 9112 §3.2: no whitespace, CTL, DEL or
 * bytes >= 0x80; a server must reject an invalid request-line). */
static const char *parse_target(const char *p, const scan_win *w, const char **tgt,
                                size_t *tgt_len, int *ret, int *status) {
  const char *start = p;
  p = scan_class(p, w->lim, target_tab);
  if (p == w->lim) return ran_off(w, ret, status);
  if (*p != ' ' || p == start) return fail(ret, status, 400);
  *tgt = start;
  *tgt_len = (size_t)(p - start);
  return p + 1;
}

/* Returns the position after "HTTP/" DIGIT "." DIGIT CRLF (RFC 9112 §2.3),
 * storing the major and minor digits, or NULL (malformed: 400). The 505
 * decision for another major is the caller's, once the line is well-formed. */
static const char *parse_version(const char *p, const scan_win *w, int *major, int *minor,
                                 int *ret, int *status) {
  static const char pat[] = "HTTP/0.0"; /* '0' marks a digit position */
  for (int i = 0; i < 8; i++, p++) {
    if (p == w->lim) return ran_off(w, ret, status);
    unsigned char c = (unsigned char)*p;
    if (pat[i] == '0') {
      if (c < '0' || c > '9') return fail(ret, status, 400);
      if (i == 5) *major = c - '0';
      else *minor = c - '0';
    } else if (c != (unsigned char)pat[i]) {
      return fail(ret, status, 400); /* "HTTP" is case-sensitive (§2.3) */
    }
  }
  return parse_eol(p, w, ret, status);
}

/* Returns the hp_target_form of a target given the method, or -1 when the
 * form is not allowed (RFC 9112 §3.2: authority-form only with CONNECT,
 * asterisk-form only with OPTIONS, CONNECT takes nothing else). */
static int classify_target(const char *m, size_t mlen, const char *t, size_t tlen) {
  int is_connect = (mlen == 7 && memcmp(m, "CONNECT", 7) == 0);
  if (is_connect) {
    /* authority = host ":" port, no userinfo (§3.2.3) */
    size_t colon = tlen;
    for (size_t i = 0; i < tlen; i++) {
      char c = t[i];
      if (c == '/' || c == '?' || c == '#' || c == '@') return -1;
      if (c == ':') colon = i;
    }
    if (colon == 0 || colon >= tlen - 1) return -1; /* empty host or port */
    for (size_t i = colon + 1; i < tlen; i++)
      if (t[i] < '0' || t[i] > '9') return -1;
    return HP_TARGET_AUTHORITY;
  }
  if (t[0] == '/') return HP_TARGET_ORIGIN;
  if (tlen == 1 && t[0] == '*')
    return (mlen == 7 && memcmp(m, "OPTIONS", 7) == 0) ? HP_TARGET_ASTERISK : -1;
  /* absolute-form: scheme "://" ... (RFC 3986 §3.1 scheme syntax) */
  unsigned char c0 = ascii_lower((unsigned char)t[0]);
  if (c0 < 'a' || c0 > 'z') return -1;
  size_t i = 1;
  while (i < tlen) {
    unsigned char c = ascii_lower((unsigned char)t[i]);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')
      i++;
    else
      break;
  }
  if (tlen - i >= 3 && t[i] == ':' && t[i + 1] == '/' && t[i + 2] == '/') {
    /* RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid, and
     * a recipient must reject it: "http:///x", "http://?q". */
    size_t a = i + 3;
    if (a == tlen || t[a] == '/' || t[a] == '?' || t[a] == '#') return -1;
    return HP_TARGET_ABSOLUTE;
  }
  return -1;
}

/* Returns the position after the request line (method SP target SP version
 * CRLF, RFC 9112 §3), filling req, or NULL (400, 414 or 505). */
static const char *parse_request_line(const char *p, const char *end, hp_request *req,
                                      const hp_limits *lim, int *ret, int *status) {
  scan_win w = make_win(p, end, lim->max_request_line, 414);
  int major = 0, minor = 0;
  if ((p = parse_token(p, &w, ' ', &req->method, &req->method_len, ret, status)) == NULL)
    return NULL;
  if ((p = parse_target(p, &w, &req->target, &req->target_len, ret, status)) == NULL)
    return NULL;
  if ((p = parse_version(p, &w, &major, &minor, ret, status)) == NULL) return NULL;
  /* A well-formed version of another major: 505 (RFC 9110 §15.6.6). */
  if (major != 1) return fail(ret, status, 505);
  /* HTTP/1.x for x > 1 is answered as 1.1, the highest we implement (§2.3). */
  req->minor_version = minor >= 1 ? 1 : 0;
  int form = classify_target(req->method, req->method_len, req->target, req->target_len);
  if (form < 0) return fail(ret, status, 400);
  req->target_form = form;
  return p;
}

/* ---- field section ------------------------------------------------------- */

/* What the semantic header fields said, gathered while parsing. */
typedef struct {
  int host_count;
  int cl_count;          /* Content-Length fields seen */
  uint64_t cl_value;     /* the agreed Content-Length */
  int cl_bad;            /* a Content-Length was malformed, overflowed or disagreed */
  int te_count;          /* Transfer-Encoding fields seen */
  int te_bad;            /* a malformed coding, or chunked with parameters */
  int te_last_chunked;   /* the last coding so far is chunked */
  int te_chunked_early;  /* chunked was followed by another coding */
  int te_other;          /* a coding other than chunked was seen */
  int conn_close;
  int conn_keep_alive;
  int expect_continue;
} head_facts;

/* Returns the next list element of s[0..n) starting at *pos with OWS trimmed,
 * advancing *pos past its comma; *elen is 0 for an empty element (RFC 9110
 * §5.6.1). Returns NULL when the list is exhausted. */
static const char *next_element(const char *s, size_t n, size_t *pos, size_t *elen) {
  if (*pos > n) return NULL;
  size_t i = *pos, j = i;
  while (j < n && s[j] != ',') j++;
  *pos = j + 1;
  while (i < j && (s[i] == ' ' || s[i] == '\t')) i++;
  size_t k = j;
  while (k > i && (s[k - 1] == ' ' || s[k - 1] == '\t')) k--;
  *elen = k - i;
  return s + i;
}

/* Returns nothing; folds a Content-Length value (1*DIGIT, or a list of equal
 * values, RFC 9110 §8.6) into f, marking cl_bad on any fault. */
static void note_content_length(head_facts *f, const char *v, size_t n) {
  size_t pos = 0, elen;
  const char *e;
  int any = 0;
  while ((e = next_element(v, n, &pos, &elen)) != NULL) {
    if (elen == 0) { f->cl_bad = 1; return; }
    uint64_t x = 0;
    for (size_t i = 0; i < elen; i++) {
      unsigned d = (unsigned char)e[i] - '0';
      if (d > 9 || x > (HP_MAX_LENGTH - d) / 10) { f->cl_bad = 1; return; }
      x = x * 10 + d;
    }
    /* Several values must all agree, or the framing is ambiguous. */
    if ((f->cl_count > 0 || any) && x != f->cl_value) { f->cl_bad = 1; return; }
    f->cl_value = x;
    any = 1;
  }
  f->cl_count++;
}

/* Returns nothing; folds a Transfer-Encoding value (#transfer-coding, RFC
 * 9112 §6.1) into f: coding order and which codings appear. */
static void note_transfer_encoding(head_facts *f, const char *v, size_t n) {
  size_t pos = 0, elen;
  const char *e;
  f->te_count++;
  while ((e = next_element(v, n, &pos, &elen)) != NULL) {
    if (elen == 0) continue; /* empty list elements are ignored (§5.6.1) */
    size_t name_len = 0;
    while (name_len < elen && tchar_tab[(unsigned char)e[name_len]]) name_len++;
    if (name_len == 0) { f->te_bad = 1; continue; }
    size_t rest = name_len;
    while (rest < elen && (e[rest] == ' ' || e[rest] == '\t')) rest++;
    int has_params = rest < elen;
    if (has_params && e[rest] != ';') { f->te_bad = 1; continue; }
    int chunked = IEQ(e, name_len, "chunked");
    if (chunked && has_params) f->te_bad = 1; /* chunked takes no parameters */
    if (f->te_last_chunked) f->te_chunked_early = 1;
    f->te_last_chunked = chunked;
    if (!chunked) f->te_other = 1;
  }
}

/* Returns nothing; notes the Connection options close / keep-alive (RFC 9112
 * §9.3, §9.6; RFC 9110 §7.6.1). Other options are ignored. */
static void note_connection(head_facts *f, const char *v, size_t n) {
  size_t pos = 0, elen;
  const char *e;
  while ((e = next_element(v, n, &pos, &elen)) != NULL) {
    if (IEQ(e, elen, "close")) f->conn_close = 1;
    else if (IEQ(e, elen, "keep-alive")) f->conn_keep_alive = 1;
  }
}

/* Returns nothing; records the semantics of one field line in f. */
static void note_field(head_facts *f, const char *name, size_t nlen, const char *v, size_t vlen) {
  switch (nlen) {
    case 4:
      if (IEQ(name, nlen, "host")) f->host_count++;
      break;
    case 6:
      /* Expect: 100-continue (RFC 9110 §10.1.1); other expectations ignored. */
      if (IEQ(name, nlen, "expect") && IEQ(v, vlen, "100-continue")) f->expect_continue = 1;
      break;
    case 10:
      if (IEQ(name, nlen, "connection")) note_connection(f, v, vlen);
      break;
    case 14:
      if (IEQ(name, nlen, "content-length")) note_content_length(f, v, vlen);
      break;
    case 17:
      if (IEQ(name, nlen, "transfer-encoding")) note_transfer_encoding(f, v, vlen);
      break;
    default:
      break;
  }
}

/* Returns the position after one field line "name: OWS value OWS CRLF"
 * (RFC 9112 §5), storing it in h, or NULL (400, 431 or incomplete). */
static const char *parse_field_line(const char *p, const scan_win *w, hp_header *h,
                                    int *ret, int *status) {
  const char *name = p;
  p = scan_class(p, w->lim, tchar_tab);
  if (p == w->lim) return ran_off(w, ret, status);
  /* No whitespace between name and colon (§5.1); a name is a token. */
  if (*p != ':' || p == name) return fail(ret, status, 400);
  h->name = name;
  h->name_len = (size_t)(p - name);
  p++;
  while (p < w->lim && (*p == ' ' || *p == '\t')) p++; /* leading OWS */
  const char *value = p;
  p = scan_class(p, w->lim, value_tab);
  if (p == w->lim) return ran_off(w, ret, status);
  const char *vend = p;
  /* Any CTL, DEL or NUL in a value, and a bare LF, are 400 (§5.5). */
  if ((p = parse_eol(p, w, ret, status)) == NULL) return NULL;
  while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t')) vend--; /* trailing OWS */
  h->value = value;
  h->value_len = (size_t)(vend - value);
  return p;
}

/* Returns the position after the field section and its empty line, filling
 * req->headers and f, or NULL (400, 431 or incomplete). */
static const char *parse_headers(const char *p, const char *end, hp_request *req,
                                 const hp_limits *lim, head_facts *f, int *ret, int *status) {
  scan_win w = make_win(p, end, lim->max_header_bytes, 431);
  size_t cap = req->num_headers < lim->max_headers ? req->num_headers : lim->max_headers;
  size_t n = 0;
  for (;;) {
    if (p == w.lim) return ran_off(&w, ret, status);
    if (*p == '\r' || *p == '\n') break; /* the empty line ends the section */
    /* A line starting with whitespace is obs-fold, or whitespace before the
     * first field line: both rejected (§5.2, §2.2). */
    if (*p == ' ' || *p == '\t') return fail(ret, status, 400);
    if (n == cap) return fail(ret, status, 431);
    hp_header *h = &req->headers[n];
    if ((p = parse_field_line(p, &w, h, ret, status)) == NULL) return NULL;
    note_field(f, h->name, h->name_len, h->value, h->value_len);
    n++;
  }
  if ((p = parse_eol(p, &w, ret, status)) == NULL) return NULL;
  req->num_headers = n;
  return p;
}

/* Returns 0 after deciding keep-alive, Expect and body framing from f
 * (RFC 9112 §3.2, §6.1, §6.3, §9.3), or an error status. */
static int apply_semantics(hp_request *req, const head_facts *f) {
  int v11 = req->minor_version == 1;
  /* Host: exactly one in HTTP/1.1, at most one in 1.0 (§3.2). */
  if (f->host_count > 1 || (v11 && f->host_count == 0)) return 400;
  if (f->te_count > 0) {
    /* TE in 1.0 is a faulty framing (§6.1); TE with CL is a smuggling
     * vector (§6.1, §6.3 item 3): reject and close. */
    if (!v11) return 400;
    if (f->cl_count > 0 || f->cl_bad) {
      req->must_close = 1;
      return 400;
    }
    /* chunked must be the final coding, once (§6.3 item 4, §7.1). */
    if (f->te_bad || f->te_chunked_early || !f->te_last_chunked) return 400;
    /* Only chunked is implemented: other codings are 501 (§6.1). */
    if (f->te_other) return 501;
    req->body_kind = HP_BODY_CHUNKED;
  } else if (f->cl_bad) {
    return 400; /* §6.3 item 5 */
  } else if (f->cl_count > 0) {
    req->body_kind = HP_BODY_LENGTH;
    req->content_length = f->cl_value;
  }
  req->keep_alive = f->conn_close ? 0 : (v11 ? 1 : f->conn_keep_alive);
  req->expect_continue = v11 && f->expect_continue; /* ignored in 1.0 (RFC 9110 §10.1.1) */
  return 0;
}

int hp_parse_request(const char *buf, size_t len, hp_request *req, const hp_limits *limits,
                     int *status) {
  if (limits == NULL) limits = &hp_default_limits;
  const char *p = buf, *end = buf + len;
  int ret = HP_INCOMPLETE, st = 0;
  head_facts f;
  memset(&f, 0, sizeof f);
  req->body_kind = HP_BODY_NONE;
  req->content_length = 0;
  req->keep_alive = 0;
  req->expect_continue = 0;
  req->must_close = 0;

  if ((p = skip_empty_lines(p, end, &ret, &st)) == NULL ||
      (p = parse_request_line(p, end, req, limits, &ret, &st)) == NULL ||
      (p = parse_headers(p, end, req, limits, &f, &ret, &st)) == NULL) {
    if (ret == HP_ERROR) {
      req->must_close = 1;
      if (status) *status = st;
    }
    return ret;
  }
  if ((st = apply_semantics(req, &f)) != 0) {
    req->must_close = 1;
    if (status) *status = st;
    return HP_ERROR;
  }
  return (int)(p - buf);
}

/* ---- chunked body (RFC 9112 §7.1) ---------------------------------------- */

enum {
  CH_SIZE = 0,      /* hex digits of chunk-size (state 0: a zeroed decoder) */
  CH_EXT,           /* after the size or a whole extension: ';', BWS or CR */
  CH_EXT_BWS,       /* BWS that must be followed by ';' */
  CH_EXT_NAME0,     /* after ';': BWS then the first tchar of ext-name */
  CH_EXT_NAME,      /* in ext-name */
  CH_EXT_NAME_BWS,  /* BWS after ext-name: '=' or ';' must follow */
  CH_EXT_VAL0,      /* after '=': BWS then a token or a quoted-string */
  CH_EXT_VAL_TOKEN, /* in a token ext-val */
  CH_EXT_VAL_Q,     /* in a quoted-string */
  CH_EXT_VAL_QESC,  /* after a backslash in a quoted-string */
  CH_SIZE_LF,       /* after the CR of the size line */
  CH_DATA,          /* chunk data */
  CH_DATA_CR,       /* CRLF after chunk data */
  CH_DATA_LF,
  CH_TRAILER,       /* start of a trailer line (or of the final CRLF) */
  CH_TRAILER_NAME,  /* in a trailer field name */
  CH_TRAILER_VALUE, /* in a trailer field value */
  CH_TRAILER_LF,    /* after the CR of a trailer line */
  CH_FINAL_LF,      /* after the CR of the final empty line */
  CH_DONE
};

/* Returns 1 if c may appear inside a quoted-string unescaped (qdtext,
 * RFC 9110 §5.6.4). */
static inline int is_qdtext(unsigned char c) {
  return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
         (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

/* Returns 1 if c is a hex digit, storing its value in *v. */
static inline int hex_value(unsigned char c, unsigned *v) {
  if (c >= '0' && c <= '9') *v = c - '0';
  else if (c >= 'a' && c <= 'f') *v = c - 'a' + 10;
  else if (c >= 'A' && c <= 'F') *v = c - 'A' + 10;
  else return 0;
  return 1;
}

/* Returns HP_ERROR after storing st in *status (and the decoded length). */
static long chunk_fail(hp_chunked *d, size_t *len, size_t w, int *status, int st) {
  d->state = CH_DONE + 1; /* poisoned: any further call fails too */
  *len = w;
  if (status) *status = st;
  return HP_ERROR;
}

long hp_chunked_decode(hp_chunked *d, char *buf, size_t *len, const hp_limits *limits,
                       int *status) {
  if (limits == NULL) limits = &hp_default_limits;
  size_t n = *len, r = 0, w = 0; /* read and write offsets; w <= r */
  if (d->state == CH_DONE) {  /* finished earlier: everything is leftover */
    *len = 0;
    return (long)n;
  }
  if (d->state > CH_DONE) return chunk_fail(d, len, 0, status, 400);

  while (r < n) {
    if (d->state == CH_DATA) {
      /* Bulk copy of chunk data, the common case. */
      size_t avail = n - r;
      size_t take = d->chunk_remaining < avail ? (size_t)d->chunk_remaining : avail;
      if (w != r) memmove(buf + w, buf + r, take);
      w += take;
      r += take;
      d->chunk_remaining -= take;
      if (d->chunk_remaining == 0) d->state = CH_DATA_CR;
      continue;
    }
    unsigned char c = (unsigned char)buf[r++];
    unsigned hv;
    if (d->state < CH_SIZE_LF) {
      /* Size line, with extensions: bounded (§7.1.1 lets us limit them). */
      if (++d->line_bytes > HP_MAX_CHUNK_LINE) return chunk_fail(d, len, w, status, 400);
    } else if (d->state >= CH_TRAILER && d->state <= CH_FINAL_LF) {
      if (++d->trailer_bytes > limits->max_header_bytes)
        return chunk_fail(d, len, w, status, 431);
    }
    switch (d->state) {
      case CH_SIZE:
        if (hex_value(c, &hv)) {
          /* Overflow check before shifting: sizes are capped at 2^63-1. */
          if (d->chunk_remaining > (HP_MAX_LENGTH >> 4)) return chunk_fail(d, len, w, status, 400);
          d->chunk_remaining = (d->chunk_remaining << 4) | hv;
          break;
        }
        if (d->line_bytes == 1) return chunk_fail(d, len, w, status, 400); /* no digit */
        /* The size ended: this byte starts the extensions or the CRLF. */
        d->state = CH_EXT;
        /* FALLTHROUGH */
      case CH_EXT:
        /* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) */
        if (c == ';') d->state = CH_EXT_NAME0;
        else if (c == '\r') d->state = CH_SIZE_LF;
        else if (c == ' ' || c == '\t') d->state = CH_EXT_BWS;
        else return chunk_fail(d, len, w, status, 400);
        break;
      case CH_EXT_BWS:
        if (c == ';') d->state = CH_EXT_NAME0;
        else if (c != ' ' && c != '\t') return chunk_fail(d, len, w, status, 400);
        break;
      case CH_EXT_NAME0:
        if (c == ' ' || c == '\t') break;
        if (!tchar_tab[c]) return chunk_fail(d, len, w, status, 400);
        d->state = CH_EXT_NAME;
        break;
      case CH_EXT_NAME:
        if (tchar_tab[c]) break;
        if (c == '=') d->state = CH_EXT_VAL0;
        else if (c == ';') d->state = CH_EXT_NAME0;
        else if (c == '\r') d->state = CH_SIZE_LF;
        else if (c == ' ' || c == '\t') d->state = CH_EXT_NAME_BWS;
        else return chunk_fail(d, len, w, status, 400);
        break;
      case CH_EXT_NAME_BWS:
        if (c == ' ' || c == '\t') break;
        if (c == '=') d->state = CH_EXT_VAL0;
        else if (c == ';') d->state = CH_EXT_NAME0;
        else return chunk_fail(d, len, w, status, 400);
        break;
      case CH_EXT_VAL0:
        if (c == ' ' || c == '\t') break;
        if (c == '"') d->state = CH_EXT_VAL_Q;
        else if (tchar_tab[c]) d->state = CH_EXT_VAL_TOKEN;
        else return chunk_fail(d, len, w, status, 400);
        break;
      case CH_EXT_VAL_TOKEN:
        if (tchar_tab[c]) break;
        if (c == ';') d->state = CH_EXT_NAME0;
        else if (c == '\r') d->state = CH_SIZE_LF;
        else if (c == ' ' || c == '\t') d->state = CH_EXT_BWS;
        else return chunk_fail(d, len, w, status, 400);
        break;
      case CH_EXT_VAL_Q:
        if (c == '"') d->state = CH_EXT;
        else if (c == '\\') d->state = CH_EXT_VAL_QESC;
        else if (!is_qdtext(c)) return chunk_fail(d, len, w, status, 400);
        break;
      case CH_EXT_VAL_QESC:
        /* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
        if (!(c == '\t' || (c >= 0x20 && c != 0x7f))) return chunk_fail(d, len, w, status, 400);
        d->state = CH_EXT_VAL_Q;
        break;
      case CH_SIZE_LF:
        if (c != '\n') return chunk_fail(d, len, w, status, 400);
        d->line_bytes = 0;
        if (d->chunk_remaining == 0) {
          d->state = CH_TRAILER; /* last-chunk: trailer section follows */
          d->trailer_bytes = 0;
          d->line_bytes = 0;
        } else {
          d->state = CH_DATA;
        }
        break;
      case CH_DATA_CR:
        if (c != '\r') return chunk_fail(d, len, w, status, 400);
        d->state = CH_DATA_LF;
        break;
      case CH_DATA_LF:
        if (c != '\n') return chunk_fail(d, len, w, status, 400);
        d->state = CH_SIZE;
        break;
      case CH_TRAILER:
        if (c == '\r') {
          d->state = CH_FINAL_LF;
        } else if (tchar_tab[c]) {
          /* Trailer fields count against max_headers like header fields;
           * line_bytes holds their number here. */
          if (++d->line_bytes > limits->max_headers) return chunk_fail(d, len, w, status, 431);
          d->state = CH_TRAILER_NAME;
        } else {
          return chunk_fail(d, len, w, status, 400); /* obs-fold, bare LF, junk */
        }
        break;
      case CH_TRAILER_NAME:
        if (tchar_tab[c]) break;
        if (c != ':') return chunk_fail(d, len, w, status, 400);
        d->state = CH_TRAILER_VALUE;
        break;
      case CH_TRAILER_VALUE:
        if (value_tab[c]) break;
        if (c != '\r') return chunk_fail(d, len, w, status, 400);
        d->state = CH_TRAILER_LF;
        break;
      case CH_TRAILER_LF:
        if (c != '\n') return chunk_fail(d, len, w, status, 400);
        d->state = CH_TRAILER;
        break;
      case CH_FINAL_LF:
        if (c != '\n') return chunk_fail(d, len, w, status, 400);
        d->state = CH_DONE;
        /* The message ended: move what follows right after the body. */
        if (w != r) memmove(buf + w, buf + r, n - r);
        *len = w;
        return (long)(n - r);
      default:
        return chunk_fail(d, len, w, status, 400);
    }
  }
  *len = w;
  return HP_INCOMPLETE;
}
