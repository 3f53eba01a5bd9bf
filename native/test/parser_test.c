/*
 * Table tests for native/http/parser.c. Every input is copied to the end of a
 * page followed by a PROT_NONE page (guard.c), so any over-read crashes; run
 * under ASan/UBSan. Each valid request is also checked prefix by prefix
 * (every proper prefix must be HP_INCOMPLETE), and every chunked body is
 * decoded whole, byte by byte and in pseudo-random pieces.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "http/parser.h"

/* ---- head parser table ---------------------------------------------------- */

enum { K_OK, K_ERR, K_INC };

typedef struct {
  const char *label;
  const char *in;
  size_t len;            /* 0: strlen(in) */
  int kind;              /* K_OK, K_ERR, K_INC */
  int status;            /* K_ERR: expected status */
  int must_close;        /* expected must_close (K_OK: 0 unless set; K_ERR: checked when set) */
  size_t consumed;       /* K_OK: 0 means the whole input */
  const char *method;    /* K_OK: checked when non-NULL */
  const char *target;
  int form;              /* enum hp_target_form */
  int v10;               /* expect minor_version 0 (else 1) */
  const char *hdrs;      /* "name: value\n" per field, checked when non-NULL */
  int body;              /* enum hp_body_kind */
  uint64_t cl;
  int close;             /* expect keep_alive 0 (else 1) */
  int expect;            /* expect expect_continue 1 */
  const hp_limits *lim;  /* NULL: defaults */
  size_t cap;            /* header capacity; 0: 128 */
} row;

#define OK(lbl, input, ...) {.label = lbl, .in = input, .kind = K_OK, __VA_ARGS__}
#define ERR(lbl, input, st, ...) {.label = lbl, .in = input, .kind = K_ERR, .status = st, __VA_ARGS__}
#define INC(lbl, input, ...) {.label = lbl, .in = input, .kind = K_INC, __VA_ARGS__}
/* For inputs holding NUL bytes: the length comes from the literal. */
#define LEN(lit) .len = sizeof(lit) - 1

#define H "Host: a\r\n"
#define GET11 "GET / HTTP/1.1\r\n"

static const hp_limits lim_line20 = {20, 16384, 100};   /* "GET /123 HTTP/1.1\r\n" is 19 */
static const hp_limits lim_hdr11 = {8192, 11, 100};     /* "Host: a\r\n\r\n" is 11 */
static const hp_limits lim_hdr10 = {8192, 10, 100};
static const hp_limits lim_3hdrs = {8192, 16384, 3};

static char big_target[9000];  /* request line of more than 8192 bytes */
static char exact_line[8300];  /* request line of exactly 8192 bytes */
static char big_header[17100]; /* one 17000-byte field */
static char hdrs100[4000];     /* Host + 99 fields: 100 */
static char hdrs101[4000];     /* Host + 100 fields: 101 */
static char long_incomplete[9000]; /* 8192 bytes of target, no end yet */

static const row rows[] = {
    /* -- request line, basics -- */
    OK("minimal GET 1.1", GET11 H "\r\n", .method = "GET", .target = "/", .hdrs = "Host: a\n"),
    OK("GET 1.0 without Host", "GET / HTTP/1.0\r\n\r\n", .v10 = 1, .close = 1, .hdrs = ""),
    OK("1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", .v10 = 1),
    OK("1.0 Keep-Alive mixed case", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", .v10 = 1),
    OK("1.0 close and keep-alive: close wins", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", .v10 = 1, .close = 1),
    OK("1.1 Connection: close", GET11 H "Connection: close\r\n\r\n", .close = 1),
    OK("1.1 Connection: CLOSE", GET11 H "Connection: CLOSE\r\n\r\n", .close = 1),
    OK("1.1 Connection list with close", GET11 H "Connection: upgrade, close\r\n\r\n", .close = 1),
    OK("1.1 Connection: keep-alive", GET11 H "Connection: keep-alive\r\n\r\n"),
    OK("1.1 Connection: closed is not close", GET11 H "Connection: closed\r\n\r\n"),
    OK("1.1 two Connection fields", GET11 H "Connection: foo\r\nConnection: close\r\n\r\n", .close = 1),
    OK("POST with body length", "POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
       .method = "POST", .target = "/submit", .body = HP_BODY_LENGTH, .cl = 5, .consumed = 53),
    OK("custom method M-SEARCH", "M-SEARCH /x HTTP/1.1\r\n" H "\r\n", .method = "M-SEARCH", .target = "/x"),
    ERR("M-SEARCH * (asterisk is OPTIONS only)", "M-SEARCH * HTTP/1.1\r\n" H "\r\n", 400),
    OK("lower-case method is a token", "get / HTTP/1.1\r\n" H "\r\n", .method = "get"),
    OK("method of all tchar specials", "!#$%&'*+-.^_`|~09AZaz / HTTP/1.1\r\n" H "\r\n", .method = "!#$%&'*+-.^_`|~09AZaz"),
    ERR("method with (", "GE(T / HTTP/1.1\r\n" H "\r\n", 400),
    ERR("method with tab", "GET\t/ HTTP/1.1\r\n" H "\r\n", 400),
    ERR("method with 0x80", "G\x80T / HTTP/1.1\r\n" H "\r\n", 400),
    ERR("method with NUL", "G\0T / HTTP/1.1\r\n" H "\r\n", 400, LEN("G\0T / HTTP/1.1\r\n" H "\r\n")),
    ERR("empty method", " / HTTP/1.1\r\n" H "\r\n", 400),
    ERR("two spaces after method", "GET  / HTTP/1.1\r\n" H "\r\n", 400),
    ERR("two spaces after target", "GET /  HTTP/1.1\r\n" H "\r\n", 400),
    ERR("space inside target", "GET /a b HTTP/1.1\r\n" H "\r\n", 400),
    ERR("method only", "GET\r\n\r\n", 400),
    ERR("missing version", "GET /\r\n" H "\r\n", 400),
    ERR("missing version after SP", "GET / \r\n" H "\r\n", 400),
    ERR("trailing space after version", "GET / HTTP/1.1 \r\n" H "\r\n", 400),
    ERR("request line bare LF", "GET / HTTP/1.1\n" H "\r\n", 400),
    ERR("request line bare CR", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400),
    ERR("CR inside target", "GET /a\rb HTTP/1.1\r\n" H "\r\n", 400),
    ERR("LF inside target", "GET /a\nb HTTP/1.1\r\n" H "\r\n", 400),
    /* -- request-target -- */
    OK("target with every visible ASCII class",
       "GET /!$&'()*+,;=:@-._~%20?q=\"<>{}|\\^`[]#f HTTP/1.1\r\n" H "\r\n",
       .target = "/!$&'()*+,;=:@-._~%20?q=\"<>{}|\\^`[]#f"),
    OK("target with query", "GET /p?a=1&b=2 HTTP/1.1\r\n" H "\r\n", .target = "/p?a=1&b=2"),
    ERR("target with 0x01", "GET /a\x01 HTTP/1.1\r\n" H "\r\n", 400),
    ERR("target with 0x1f", "GET /a\x1f HTTP/1.1\r\n" H "\r\n", 400),
    ERR("target with DEL", "GET /a\x7f HTTP/1.1\r\n" H "\r\n", 400),
    ERR("target with 0x80", "GET /a\x80 HTTP/1.1\r\n" H "\r\n", 400),
    ERR("target with 0xff", "GET /\xff HTTP/1.1\r\n" H "\r\n", 400),
    ERR("target with tab", "GET /a\tb HTTP/1.1\r\n" H "\r\n", 400),
    ERR("target with NUL", "GET /a\0 HTTP/1.1\r\n" H "\r\n", 400, LEN("GET /a\0 HTTP/1.1\r\n" H "\r\n")),
    OK("OPTIONS *", "OPTIONS * HTTP/1.1\r\n" H "\r\n", .method = "OPTIONS", .target = "*", .form = HP_TARGET_ASTERISK),
    OK("OPTIONS origin-form", "OPTIONS /x HTTP/1.1\r\n" H "\r\n", .target = "/x"),
    ERR("GET *", "GET * HTTP/1.1\r\n" H "\r\n", 400),
    ERR("OPTIONS *x", "OPTIONS *x HTTP/1.1\r\n" H "\r\n", 400),
    OK("CONNECT host:port", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
       .method = "CONNECT", .target = "example.com:443", .form = HP_TARGET_AUTHORITY),
    OK("CONNECT IPv6 literal", "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
       .target = "[::1]:8080", .form = HP_TARGET_AUTHORITY),
    ERR("CONNECT without port", "CONNECT example.com HTTP/1.1\r\n" H "\r\n", 400),
    ERR("CONNECT empty port", "CONNECT example.com: HTTP/1.1\r\n" H "\r\n", 400),
    ERR("CONNECT empty host", "CONNECT :443 HTTP/1.1\r\n" H "\r\n", 400),
    ERR("CONNECT origin-form", "CONNECT /x HTTP/1.1\r\n" H "\r\n", 400),
    ERR("CONNECT userinfo", "CONNECT u@h:80 HTTP/1.1\r\n" H "\r\n", 400),
    ERR("CONNECT absolute-form", "CONNECT http://h:80/ HTTP/1.1\r\n" H "\r\n", 400),
    ERR("CONNECT port not digits", "CONNECT h:8a HTTP/1.1\r\n" H "\r\n", 400),
    ERR("CONNECT *", "CONNECT * HTTP/1.1\r\n" H "\r\n", 400),
    ERR("authority-form with GET", "GET example.com:80 HTTP/1.1\r\n" H "\r\n", 400),
    OK("absolute-form http", "GET http://example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n",
       .target = "http://example.com/x?y", .form = HP_TARGET_ABSOLUTE),
    OK("absolute-form upper-case scheme", "GET HTTPS://a/ HTTP/1.1\r\n" H "\r\n", .form = HP_TARGET_ABSOLUTE),
    OK("absolute-form scheme with +-.", "GET a+b.c-d://x HTTP/1.1\r\n" H "\r\n", .form = HP_TARGET_ABSOLUTE),
    ERR("absolute-form single slash", "GET http:/x HTTP/1.1\r\n" H "\r\n", 400),
    ERR("scheme starting with digit", "GET 1http://x HTTP/1.1\r\n" H "\r\n", 400),
    ERR("bare word target", "GET foo HTTP/1.1\r\n" H "\r\n", 400),
    ERR("target starting with ?", "GET ?x HTTP/1.1\r\n" H "\r\n", 400),
    ERR("scheme only", "GET http: HTTP/1.1\r\n" H "\r\n", 400),
    /* -- HTTP-version -- */
    OK("HTTP/1.2 treated as 1.1", "GET / HTTP/1.2\r\n" H "\r\n"),
    OK("HTTP/1.9 treated as 1.1", "GET / HTTP/1.9\r\n" H "\r\n"),
    ERR("HTTP/1.2 needs Host like 1.1", "GET / HTTP/1.2\r\n\r\n", 400),
    ERR("HTTP/2.0", "GET / HTTP/2.0\r\n" H "\r\n", 505),
    ERR("HTTP/0.9 spelled out", "GET / HTTP/0.9\r\n\r\n", 505),
    ERR("HTTP/3.0", "GET / HTTP/3.0\r\n" H "\r\n", 505),
    ERR("HTTP/9.9", "GET / HTTP/9.9\r\n" H "\r\n", 505),
    ERR("HTTP/1", "GET / HTTP/1\r\n" H "\r\n", 400),
    ERR("HTTP/2", "GET / HTTP/2\r\n" H "\r\n", 400),
    ERR("HTTP/1.10", "GET / HTTP/1.10\r\n" H "\r\n", 400),
    ERR("HTTP/11", "GET / HTTP/11\r\n" H "\r\n", 400),
    ERR("HTTP/10.0", "GET / HTTP/10.0\r\n" H "\r\n", 400),
    ERR("lower-case http/1.1", "GET / http/1.1\r\n" H "\r\n", 400),
    ERR("HTTP/1.1x", "GET / HTTP/1.1x\r\n" H "\r\n", 400),
    ERR("HTTP/1.x", "GET / HTTP/1.x\r\n" H "\r\n", 400),
    ERR("HTTP/2.0x malformed beats 505", "GET / HTTP/2.0x\r\n" H "\r\n", 400),
    ERR("HTTP /1.1", "GET / HTTP /1.1\r\n" H "\r\n", 400),
    ERR("HTTPS/1.1", "GET / HTTPS/1.1\r\n" H "\r\n", 400),
    ERR("version with NUL", "GET / HTTP/1\0.1\r\n" H "\r\n", 400, LEN("GET / HTTP/1\0.1\r\n" H "\r\n")),
    ERR("HTTP/2.0 bare LF", "GET / HTTP/2.0\n\r\n", 400),
    /* -- leading empty lines (RFC 9112 §2.2) -- */
    OK("one leading CRLF", "\r\n" GET11 H "\r\n", .method = "GET"),
    OK("eight leading CRLF", "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n" GET11 H "\r\n", .method = "GET"),
    ERR("nine leading CRLF", "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n" GET11 H "\r\n", 400),
    ERR("leading bare LF", "\n" GET11 H "\r\n", 400),
    ERR("leading bare CR", "\rGET / HTTP/1.1\r\n" H "\r\n", 400),
    ERR("leading CR CR", "\r\r\n" GET11 H "\r\n", 400),
    INC("lone leading CR", "\r"),
    INC("leading CRLF only", "\r\n"),
    /* -- field lines -- */
    OK("OWS trimmed both sides", GET11 H "X:  v  \r\n\r\n", .hdrs = "Host: a\nX: v\n"),
    OK("HTAB OWS trimmed", GET11 H "X:\tv\t\r\n\r\n", .hdrs = "Host: a\nX: v\n"),
    OK("no OWS", GET11 "Host:a\r\nX:v\r\n\r\n", .hdrs = "Host: a\nX: v\n"),
    OK("empty value", GET11 H "X:\r\n\r\n", .hdrs = "Host: a\nX: \n"),
    OK("whitespace-only value", GET11 H "X:  \t \r\n\r\n", .hdrs = "Host: a\nX: \n"),
    OK("inner spaces kept", GET11 H "X: a  b\tc\r\n\r\n", .hdrs = "Host: a\nX: a  b\tc\n"),
    OK("obs-text in value", GET11 H "X: caf\xc3\xa9 \x80\xff\r\n\r\n", .hdrs = "Host: a\nX: caf\xc3\xa9 \x80\xff\n"),
    OK("name case kept", "GET / HTTP/1.1\r\nhOsT: a\r\nX-Y_z: 1\r\n\r\n", .hdrs = "hOsT: a\nX-Y_z: 1\n"),
    OK("value full of separators", GET11 H "X: \"q\";a=b,(c)<d>@e[f]\\g{h}?/=\r\n\r\n",
       .hdrs = "Host: a\nX: \"q\";a=b,(c)<d>@e[f]\\g{h}?/=\n"),
    OK("name of tchar specials", GET11 H "!#$%&'*+-.^_`|~: x\r\n\r\n", .hdrs = "Host: a\n!#$%&'*+-.^_`|~: x\n"),
    ERR("space before colon", GET11 "Host : a\r\n\r\n", 400),
    ERR("tab before colon", GET11 "Host\t: a\r\n\r\n", 400),
    ERR("empty name", GET11 H ": v\r\n\r\n", 400),
    ERR("name with (", GET11 H "X(y: z\r\n\r\n", 400),
    ERR("name with /", GET11 H "X/y: z\r\n\r\n", 400),
    ERR("name with 0x80", GET11 H "X\x80: z\r\n\r\n", 400),
    ERR("name with NUL", GET11 H "X\0: z\r\n\r\n", 400, LEN(GET11 H "X\0: z\r\n\r\n")),
    ERR("line without colon", GET11 H "Hosta\r\n\r\n", 400),
    ERR("line without colon, with space", GET11 H "Host a\r\n\r\n", 400),
    ERR("value with DEL", GET11 H "X: a\x7f\r\n\r\n", 400),
    ERR("value with 0x01", GET11 H "X: a\x01\r\n\r\n", 400),
    ERR("value with ESC", GET11 H "X: \x1b[0m\r\n\r\n", 400),
    ERR("value with NUL", GET11 H "X: a\0b\r\n\r\n", 400, LEN(GET11 H "X: a\0b\r\n\r\n")),
    ERR("value with bare CR", GET11 H "X: a\rb\r\n\r\n", 400),
    ERR("value with bare LF", GET11 H "X: a\nY: b\r\n\r\n", 400),
    ERR("value ending CR CR LF", GET11 H "X: a\r\r\n\r\n", 400),
    ERR("obs-fold", GET11 H "X: a\r\n b\r\n\r\n", 400),
    ERR("obs-fold with tab", GET11 H "X: a\r\n\tb\r\n\r\n", 400),
    ERR("whitespace before first field", GET11 " Host: a\r\n\r\n", 400),
    ERR("final empty line bare LF", GET11 H "\n", 400),
    ERR("final CR then junk", GET11 H "\rX", 400),
    /* -- Host (RFC 9112 §3.2) -- */
    ERR("1.1 without Host", GET11 "X: y\r\n\r\n", 400),
    ERR("1.1 two Host", GET11 H "Host: b\r\n\r\n", 400),
    ERR("1.1 two Host same value", GET11 H H "\r\n", 400),
    ERR("1.0 two Host", "GET / HTTP/1.0\r\n" H "host: b\r\n\r\n", 400),
    OK("1.0 with one Host", "GET / HTTP/1.0\r\n" H "\r\n", .v10 = 1, .close = 1),
    OK("Host upper-case name", GET11 "HOST: a\r\n\r\n"),
    OK("Host empty value", GET11 "Host:\r\n\r\n", .hdrs = "Host: \n"),
    /* -- Content-Length (RFC 9110 §8.6, RFC 9112 §6.3) -- */
    OK("CL 0", GET11 H "Content-Length: 0\r\n\r\n", .body = HP_BODY_LENGTH, .cl = 0),
    OK("CL leading zeros", GET11 H "Content-Length: 007\r\n\r\n", .body = HP_BODY_LENGTH, .cl = 7),
    OK("CL with OWS", GET11 H "Content-Length: \t12 \r\n\r\n", .body = HP_BODY_LENGTH, .cl = 12),
    OK("CL list of equal values", GET11 H "Content-Length: 5, 5,5\r\n\r\n", .body = HP_BODY_LENGTH, .cl = 5),
    OK("two equal CL fields", GET11 H "Content-Length: 5\r\ncontent-length: 5\r\n\r\n", .body = HP_BODY_LENGTH, .cl = 5),
    OK("CL max 2^63-1", GET11 H "Content-Length: 9223372036854775807\r\n\r\n", .body = HP_BODY_LENGTH, .cl = UINT64_C(9223372036854775807)),
    OK("CL in 1.0", "POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n", .v10 = 1, .close = 1, .body = HP_BODY_LENGTH, .cl = 3),
    ERR("CL 2^63", GET11 H "Content-Length: 9223372036854775808\r\n\r\n", 400),
    ERR("CL 23 digits", GET11 H "Content-Length: 99999999999999999999999\r\n\r\n", 400),
    ERR("CL letters", GET11 H "Content-Length: abc\r\n\r\n", 400),
    ERR("CL negative", GET11 H "Content-Length: -1\r\n\r\n", 400),
    ERR("CL plus sign", GET11 H "Content-Length: +1\r\n\r\n", 400),
    ERR("CL empty", GET11 H "Content-Length:\r\n\r\n", 400),
    ERR("CL two numbers", GET11 H "Content-Length: 1 2\r\n\r\n", 400),
    ERR("CL hex", GET11 H "Content-Length: 0x10\r\n\r\n", 400),
    ERR("CL list disagrees", GET11 H "Content-Length: 5,6\r\n\r\n", 400),
    ERR("CL fields disagree", GET11 H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
    ERR("CL empty list element", GET11 H "Content-Length: 5,\r\n\r\n", 400),
    ERR("CL decimal point", GET11 H "Content-Length: 5.0\r\n\r\n", 400),
    /* -- Transfer-Encoding (RFC 9112 §6.1, §6.3, §7) -- */
    OK("TE chunked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n", .body = HP_BODY_CHUNKED),
    OK("TE Chunked mixed case", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: ChUnKeD\r\n\r\n", .body = HP_BODY_CHUNKED),
    OK("TE empty elements ignored", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: , chunked,\r\n\r\n", .body = HP_BODY_CHUNKED),
    OK("TE lower-case name", "POST / HTTP/1.1\r\n" H "transfer-encoding: chunked\r\n\r\n", .body = HP_BODY_CHUNKED),
    ERR("TE gzip, chunked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ERR("TE deflate, chunked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: deflate, chunked\r\n\r\n", 501),
    ERR("TE unknown, chunked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: x-custom, chunked\r\n\r\n", 501),
    ERR("TE gzip field then chunked field", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    ERR("TE gzip with params, chunked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip;level=1, chunked\r\n\r\n", 501),
    ERR("TE gzip only", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", 400),
    ERR("TE identity", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n\r\n", 400),
    ERR("TE chunked, gzip", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    ERR("TE chunked, chunked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n", 400),
    ERR("TE chunked in two fields", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ERR("TE chunked with parameter", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked;q=1\r\n\r\n", 400),
    ERR("TE empty", "POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n", 400),
    ERR("TE chu nked", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chu nked\r\n\r\n", 400),
    ERR("TE quoted", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: \"chunked\"\r\n\r\n", 400),
    ERR("TE chunkedx", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunkedx\r\n\r\n", 400),
    ERR("TE with CL", "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, .must_close = 1),
    ERR("CL after TE", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400, .must_close = 1),
    ERR("TE with bad CL", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n", 400, .must_close = 1),
    ERR("TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    /* -- Expect (RFC 9110 §10.1.1) -- */
    OK("Expect 100-continue", "POST / HTTP/1.1\r\n" H "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n", .expect = 1, .body = HP_BODY_LENGTH, .cl = 3),
    OK("Expect 100-Continue", "POST / HTTP/1.1\r\n" H "expect: 100-Continue\r\n\r\n", .expect = 1),
    OK("Expect ignored in 1.0", "POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", .v10 = 1, .close = 1),
    OK("other Expect ignored", GET11 H "Expect: something\r\n\r\n"),
    /* -- limits -- */
    OK("request line under limit", "GET /123 HTTP/1.1\r\n" H "\r\n", .lim = &lim_line20, .target = "/123"),
    OK("request line exactly at limit", "GET /1234 HTTP/1.1\r\n" H "\r\n", .lim = &lim_line20, .target = "/1234"),
    ERR("request line one over limit", "GET /12345 HTTP/1.1\r\n" H "\r\n", 414, .lim = &lim_line20),
    ERR("request line over limit, incomplete", "GET /123456789012345", 414, .lim = &lim_line20),
    INC("request line under limit, incomplete", "GET /12345678901234", .lim = &lim_line20),
    ERR("huge target, default limit", big_target, 414),
    ERR("huge target incomplete, default limit", long_incomplete, 414),
    OK("request line exactly 8192", exact_line),
    OK("field section at limit", GET11 H "\r\n", .lim = &lim_hdr11),
    ERR("field section one over limit", GET11 H "\r\n", 431, .lim = &lim_hdr10),
    ERR("field section over limit, incomplete", GET11 "Host: a\r\nX-Long", 431, .lim = &lim_hdr11),
    ERR("17000-byte field, default limit", big_header, 431),
    OK("3 fields at max_headers 3", GET11 H "A: 1\r\nB: 2\r\n\r\n", .lim = &lim_3hdrs),
    ERR("4 fields over max_headers 3", GET11 H "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431, .lim = &lim_3hdrs),
    OK("2 fields at capacity 2", GET11 H "A: 1\r\n\r\n", .cap = 2),
    ERR("3 fields over capacity 2", GET11 H "A: 1\r\nB: 2\r\n\r\n", 431, .cap = 2),
    OK("100 fields, default limit", hdrs100, .cap = 128),
    ERR("101 fields, default limit", hdrs101, 431, .cap = 128),
    /* -- pipelining and incomplete heads -- */
    OK("pipelined: consumes the first head only", GET11 H "\r\nGET /2 HTTP/1.1\r\n" H "\r\n", .consumed = 27),
    OK("pipelined after a leading CRLF", "\r\n" GET11 H "\r\nX", .consumed = 29),
    INC("empty input", ""),
    INC("G", "G"),
    INC("method", "GET"),
    INC("method SP target", "GET /"),
    INC("version prefix", "GET / HTT"),
    INC("request line only", GET11),
    INC("one field", GET11 H),
    INC("final CR", GET11 H "\r"),
    INC("inside value", GET11 "Host: a"),
    INC("after name", GET11 "Host"),
};

/* ---- helpers -------------------------------------------------------------- */

static int failures, passes;

/* Returns nothing; prints a failing row's label and mismatch. */
static void mismatch(const char *label, const char *what) {
  printf("FAIL [%s]: %s\n", label, what);
  failures++;
}

/* Returns the length of r's input. */
static size_t row_len(const row *r) { return r->len ? r->len : strlen(r->in); }

/* Returns 1 if p[0..n) equals the C string s. */
static int span_eq(const char *p, size_t n, const char *s) {
  return strlen(s) == n && memcmp(p, s, n) == 0;
}

/* Returns 1 after checking one table row (whole input in a guard buffer). */
static int check_row(const row *r) {
  size_t len = row_len(r);
  char *buf = guard_copy(r->in, len);
  size_t cap = r->cap ? r->cap : 128;
  hp_header hdrs[128];
  hp_request req;
  memset(&req, 0, sizeof req);
  req.headers = hdrs;
  req.num_headers = cap;
  int status = 0;
  int ret = hp_parse_request(buf, len, &req, r->lim, &status);
  char msg[3072];
  int ok = 1;
#define BAD(...) do { snprintf(msg, sizeof msg, __VA_ARGS__); mismatch(r->label, msg); ok = 0; } while (0)
  if (r->kind == K_INC) {
    if (ret != HP_INCOMPLETE) BAD("want incomplete, got %d (status %d)", ret, status);
  } else if (r->kind == K_ERR) {
    if (ret != HP_ERROR) BAD("want error %d, got %d", r->status, ret);
    else if (status != r->status) BAD("want status %d, got %d", r->status, status);
    else if (!req.must_close) BAD("must_close not set on an error");
  } else {
    size_t want = r->consumed ? r->consumed : len;
    if (ret != (int)want) {
      BAD("want consumed %zu, got %d (status %d)", want, ret, status);
    } else {
      if (r->method && !span_eq(req.method, req.method_len, r->method))
        BAD("method %.*s", (int)req.method_len, req.method);
      if (r->target && !span_eq(req.target, req.target_len, r->target))
        BAD("target %.*s", (int)req.target_len, req.target);
      if (r->form >= 0 && req.target_form != r->form) BAD("form %d, want %d", req.target_form, r->form);
      if (req.minor_version != (r->v10 ? 0 : 1)) BAD("minor %d", req.minor_version);
      if (req.body_kind != r->body) BAD("body kind %d, want %d", req.body_kind, r->body);
      if (r->body == HP_BODY_LENGTH && req.content_length != r->cl)
        BAD("content_length %llu", (unsigned long long)req.content_length);
      if (req.keep_alive != !r->close) BAD("keep_alive %d", req.keep_alive);
      if (req.expect_continue != r->expect) BAD("expect_continue %d", req.expect_continue);
      if (req.must_close != r->must_close) BAD("must_close %d", req.must_close);
      for (size_t i = 0; i < req.num_headers; i++) {
        const hp_header *h = &req.headers[i];
        if (h->name < buf || h->name + h->name_len > buf + len || h->value < buf ||
            h->value + h->value_len > buf + len)
          BAD("header %zu points outside the input", i);
      }
      if (r->hdrs) {
        char got[1024];
        size_t g = 0;
        for (size_t i = 0; i < req.num_headers && g < sizeof got - 8; i++) {
          g += (size_t)snprintf(got + g, sizeof got - g, "%.*s: %.*s\n", (int)req.headers[i].name_len,
                                req.headers[i].name, (int)req.headers[i].value_len, req.headers[i].value);
        }
        got[g < sizeof got ? g : sizeof got - 1] = 0;
        if (strcmp(got, r->hdrs) != 0) BAD("headers:\n%s--- want:\n%s", got, r->hdrs);
      }
    }
  }
  guard_free(buf, len);

  /* Every proper prefix: a valid head must be incomplete until its end; any
   * other row must give incomplete or an error, never a crash. */
  size_t upto = r->kind == K_OK ? (r->consumed ? r->consumed : len) : len;
  for (size_t k = 0; k < upto; k++) {
    char *pb = guard_copy(r->in, k);
    memset(&req, 0, sizeof req);
    req.headers = hdrs;
    req.num_headers = cap;
    int pr = hp_parse_request(pb, k, &req, r->lim, &status);
    guard_free(pb, k);
    if (r->kind == K_OK && pr != HP_INCOMPLETE) {
      BAD("prefix of %zu bytes gave %d (status %d), want incomplete", k, pr, status);
      break;
    }
    if (r->kind != K_OK && pr != HP_INCOMPLETE && pr != HP_ERROR) {
      BAD("prefix of %zu bytes of a bad request gave %d", k, pr);
      break;
    }
  }
#undef BAD
  return ok;
}

/* ---- chunked decoder table ------------------------------------------------ */

typedef struct {
  const char *label;
  const char *in;
  int kind;             /* K_OK: complete; K_ERR; K_INC: body continues */
  int status;           /* K_ERR */
  const char *data;     /* K_OK / K_INC: the decoded body */
  const char *leftover; /* K_OK: bytes after the message */
  const hp_limits *lim;
} crow;

static const hp_limits lim_trailer16 = {8192, 16, 100};
static const hp_limits lim_2trailers = {8192, 16384, 2};
static char long_ext[5200];

static const crow crows[] = {
    {"one chunk", "5\r\nhello\r\n0\r\n\r\n", K_OK, 0, "hello", ""},
    {"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", K_OK, 0, "hello world", ""},
    {"empty body", "0\r\n\r\n", K_OK, 0, "", ""},
    {"hex upper", "A\r\n0123456789\r\n0\r\n\r\n", K_OK, 0, "0123456789", ""},
    {"hex lower", "a\r\n0123456789\r\n0\r\n\r\n", K_OK, 0, "0123456789", ""},
    {"hex 1f", "1f\r\n0123456789abcdef0123456789abcde\r\n0\r\n\r\n", K_OK, 0, "0123456789abcdef0123456789abcde", ""},
    {"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", K_OK, 0, "hello", ""},
    {"data holding CRLF", "4\r\n\r\n\r\n\r\n0\r\n\r\n", K_OK, 0, "\r\n\r\n", ""},
    {"data holding NUL and 0xff", "3\r\n\0\xff\x01\r\n0\r\n\r\n", K_OK, 0, "\0\xff\x01", ""},
    {"ext name only", "5;foo\r\nhello\r\n0\r\n\r\n", K_OK, 0, "hello", ""},
    {"ext name=token", "5;name=value\r\nhello\r\n0\r\n\r\n", K_OK, 0, "hello", ""},
    {"ext quoted", "5;a=\"q \\\" ;x\"\r\nhello\r\n0\r\n\r\n", K_OK, 0, "hello", ""},
    {"two exts", "5;a;b=c\r\nhello\r\n0;z=1\r\n\r\n", K_OK, 0, "hello", ""},
    {"ext with BWS", "5 ; a = b ;c\r\nhello\r\n0\r\n\r\n", K_OK, 0, "hello", ""},
    {"trailer", "5\r\nhello\r\n0\r\nX-T: v\r\nY:\r\n\r\n", K_OK, 0, "hello", ""},
    {"trailer with obs-text", "0\r\nX: \x80\xff\r\n\r\n", K_OK, 0, "", ""},
    {"leftover pipelined request", "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", K_OK, 0, "hello", "GET / HTTP/1.1\r\n"},
    {"leftover after trailers", "1\r\nx\r\n0\r\nA: b\r\n\r\nNEXT", K_OK, 0, "x", "NEXT"},
    {"trailers at limit", "0\r\nA: 123456789\r\n\r\n", K_OK, 0, "", "", &lim_trailer16},
    {"two trailers at max", "0\r\nA: 1\r\nB: 2\r\n\r\n", K_OK, 0, "", "", &lim_2trailers},
    {"max chunk size incomplete", "7fffffffffffffff\r\nabc", K_INC, 0, "abc"},
    {"body continues", "5\r\nhel", K_INC, 0, "hel"},
    {"size line incomplete", "5", K_INC, 0, ""},
    {"final CR incomplete", "0\r\n\r", K_INC, 0, ""},
    {"trailer incomplete", "0\r\nX: y", K_INC, 0, ""},
    {"many zero-padded digits", "00000000000000000000005\r\nhello\r\n0\r\n\r\n", K_OK, 0, "hello", ""},
    {"size overflow 2^63", "8000000000000000\r\n", K_ERR, 400},
    {"size overflow 17 digits", "10000000000000000\r\n", K_ERR, 400},
    {"no size", "\r\nhello\r\n", K_ERR, 400},
    {"size not hex", "x\r\n", K_ERR, 400},
    {"size 0x prefix", "0x5\r\nhello\r\n", K_ERR, 400},
    {"negative size", "-1\r\n", K_ERR, 400},
    {"ext without size", ";a\r\n", K_ERR, 400},
    {"space before size", " 5\r\nhello\r\n0\r\n\r\n", K_ERR, 400},
    {"BWS then CRLF", "5 \r\nhello\r\n0\r\n\r\n", K_ERR, 400},
    {"empty ext name", "5;\r\nhello\r\n0\r\n\r\n", K_ERR, 400},
    {"empty ext value", "5;a=\r\nhello\r\n0\r\n\r\n", K_ERR, 400},
    {"ext value unterminated quote", "5;a=\"x\r\nhello\r\n", K_ERR, 400},
    {"ext without name", "5;=b\r\nhello\r\n", K_ERR, 400},
    {"ext value two words", "5;a=b c\r\nhello\r\n", K_ERR, 400},
    {"ext name then word", "5;a b\r\nhello\r\n", K_ERR, 400},
    {"ext with CTL", "5;a=\x01\r\nhello\r\n", K_ERR, 400},
    {"ext line too long", long_ext, K_ERR, 400},
    {"size bare LF", "5\nhello\r\n0\r\n\r\n", K_ERR, 400},
    {"size CR without LF", "5\rhello\r\n", K_ERR, 400},
    {"data too long", "5\r\nhelloX\r\n0\r\n\r\n", K_ERR, 400},
    {"data bare LF", "5\r\nhello\n0\r\n\r\n", K_ERR, 400},
    {"data CR without LF", "5\r\nhello\r0\r\n\r\n", K_ERR, 400},
    {"last chunk bare LF", "0\n\r\n", K_ERR, 400},
    {"final empty line bare LF", "0\r\n\n", K_ERR, 400},
    {"final CR then junk", "0\r\n\rX", K_ERR, 400},
    {"trailer obs-fold", "0\r\nA: b\r\n c\r\n\r\n", K_ERR, 400},
    {"trailer leading space", "0\r\n A: b\r\n\r\n", K_ERR, 400},
    {"trailer without colon", "0\r\nAb\r\n\r\n", K_ERR, 400},
    {"trailer space before colon", "0\r\nA : b\r\n\r\n", K_ERR, 400},
    {"trailer bad name", "0\r\nA(b: c\r\n\r\n", K_ERR, 400},
    {"trailer value CTL", "0\r\nA: \x01\r\n\r\n", K_ERR, 400},
    {"trailer value DEL", "0\r\nA: \x7f\r\n\r\n", K_ERR, 400},
    {"trailer bare LF", "0\r\nA: b\n\r\n", K_ERR, 400},
    {"trailer bare CR", "0\r\nA: b\rc\r\n\r\n", K_ERR, 400},
    {"trailers over limit", "0\r\nA: 1234567890\r\n\r\n", K_ERR, 431, NULL, NULL, &lim_trailer16},
    {"three trailers over max 2", "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", K_ERR, 431, NULL, NULL, &lim_2trailers},
};

/* Length of a chunked row's input: NUL bytes only occur in "data holding NUL". */
static size_t crow_len(const crow *r) {
  if (strcmp(r->label, "data holding NUL and 0xff") == 0) return sizeof("3\r\n\0\xff\x01\r\n0\r\n\r\n") - 1;
  return strlen(r->in);
}
static size_t crow_data_len(const crow *r) {
  if (strcmp(r->label, "data holding NUL and 0xff") == 0) return 3;
  return r->data ? strlen(r->data) : 0;
}

static uint32_t rng_state = 12345;
/* Returns a pseudo-random number (LCG; deterministic runs). */
static uint32_t rnd(void) {
  rng_state = rng_state * 1103515245u + 12345u;
  return rng_state >> 8;
}

/* Returns 1 after decoding r->in fed in pieces: step 0 means all at once,
 * 1 byte by byte, and -1 pseudo-random piece sizes. */
static int check_chunked(const crow *r, int step) {
  size_t len = crow_len(r), off = 0, out_len = 0;
  char out[8192];
  hp_chunked d;
  memset(&d, 0, sizeof d);
  char msg[300];
  const char *how = step == 0 ? "whole" : step == 1 ? "byte-at-a-time" : "random pieces";
  long ret = HP_INCOMPLETE;
  int status = 0;
  size_t leftover_start = 0, leftover_n = 0;
  char leftover[256];
  do {
    size_t piece = step == 0 ? len - off : step == 1 ? 1 : 1 + rnd() % 7;
    if (piece > len - off) piece = len - off;
    char *b = guard_copy(r->in + off, piece);
    size_t n = piece;
    ret = hp_chunked_decode(&d, b, &n, r->lim, &status);
    if (ret != HP_ERROR) {
      if (n > piece) {
        snprintf(msg, sizeof msg, "%s: decoded %zu > piece %zu", how, n, piece);
        mismatch(r->label, msg);
        guard_free(b, piece);
        return 0;
      }
      if (out_len + n <= sizeof out) memcpy(out + out_len, b, n);
      out_len += n;
      if (ret >= 0) {
        leftover_n = (size_t)ret;
        if (leftover_n > sizeof leftover) leftover_n = sizeof leftover;
        memcpy(leftover, b + n, leftover_n);
        leftover_start = off + piece;
      }
    }
    guard_free(b, piece);
    off += piece;
  } while (ret == HP_INCOMPLETE && off < len);

  if (r->kind == K_ERR) {
    if (ret != HP_ERROR || status != r->status) {
      snprintf(msg, sizeof msg, "%s: want error %d, got %ld status %d", how, r->status, ret, status);
      mismatch(r->label, msg);
      return 0;
    }
    /* A failed decoder stays failed. */
    char one = '0';
    size_t n1 = 1;
    if (hp_chunked_decode(&d, &one, &n1, r->lim, &status) != HP_ERROR) {
      mismatch(r->label, "decoder accepted input after an error");
      return 0;
    }
    return 1;
  }
  size_t want_len = crow_data_len(r);
  if (out_len != want_len || memcmp(out, r->data, want_len) != 0) {
    snprintf(msg, sizeof msg, "%s: decoded %zu bytes \"%.*s\", want \"%s\"", how, out_len,
             (int)(out_len < 100 ? out_len : 100), out, r->data);
    mismatch(r->label, msg);
    return 0;
  }
  if (r->kind == K_INC) {
    if (ret != HP_INCOMPLETE) {
      snprintf(msg, sizeof msg, "%s: want incomplete, got %ld status %d", how, ret, status);
      mismatch(r->label, msg);
      return 0;
    }
    return 1;
  }
  if (ret < 0) {
    snprintf(msg, sizeof msg, "%s: want completion, got %ld status %d", how, ret, status);
    mismatch(r->label, msg);
    return 0;
  }
  /* Leftover: what the last call returned plus what was never fed. */
  char all[512];
  size_t a = 0;
  memcpy(all, leftover, leftover_n);
  a = leftover_n;
  memcpy(all + a, r->in + leftover_start, len - leftover_start);
  a += len - leftover_start;
  if (a != strlen(r->leftover) || memcmp(all, r->leftover, a) != 0) {
    snprintf(msg, sizeof msg, "%s: leftover \"%.*s\", want \"%s\"", how, (int)a, all, r->leftover);
    mismatch(r->label, msg);
    return 0;
  }
  /* After completion every further byte is leftover. */
  char more[3] = "abc";
  size_t n3 = 3;
  if (hp_chunked_decode(&d, more, &n3, r->lim, &status) != 3 || n3 != 0) {
    mismatch(r->label, "completed decoder did not pass further bytes through");
    return 0;
  }
  return 1;
}

/* ---- fixtures built at run time ------------------------------------------- */

/* Returns nothing; fills the large generated inputs used by the tables. */
static void build_fixtures(void) {
  size_t n;
  n = (size_t)sprintf(big_target, "GET /");
  memset(big_target + n, 'a', 8500);
  n += 8500;
  strcpy(big_target + n, " HTTP/1.1\r\nHost: a\r\n\r\n");

  /* "GET /" + pad + " HTTP/1.1\r\n" = 8192 bytes: 5 + pad + 11 */
  n = (size_t)sprintf(exact_line, "GET /");
  memset(exact_line + n, 'b', 8192 - 16);
  n += 8192 - 16;
  strcpy(exact_line + n, " HTTP/1.1\r\nHost: a\r\n\r\n");

  n = (size_t)sprintf(long_incomplete, "GET /");
  memset(long_incomplete + n, 'c', 8192 - 5);
  long_incomplete[8192] = 0;

  n = (size_t)sprintf(big_header, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
  memset(big_header + n, 'v', 17000);
  n += 17000;
  strcpy(big_header + n, "\r\n\r\n");

  n = (size_t)sprintf(hdrs100, "GET / HTTP/1.1\r\nHost: a\r\n");
  for (int i = 1; i < 100; i++) n += (size_t)sprintf(hdrs100 + n, "X%d: %d\r\n", i, i);
  strcpy(hdrs100 + n, "\r\n");
  n = (size_t)sprintf(hdrs101, "GET / HTTP/1.1\r\nHost: a\r\n");
  for (int i = 1; i < 101; i++) n += (size_t)sprintf(hdrs101 + n, "X%d: %d\r\n", i, i);
  strcpy(hdrs101 + n, "\r\n");

  n = (size_t)sprintf(long_ext, "5;a=");
  memset(long_ext + n, 'e', 5100);
  n += 5100;
  strcpy(long_ext + n, "\r\nhello\r\n0\r\n\r\n");
}

/* Returns 1 after checking an input of every single byte value after a valid
 * prefix: no crash, and the verdict is the byte class's. */
static int check_byte_classes(void) {
  int ok = 1;
  for (int c = 0; c < 256; c++) {
    char in[64];
    int n = snprintf(in, sizeof in, "GET / HTTP/1.1\r\nHost: a\r\nX: a");
    in[n++] = (char)c;
    memcpy(in + n, "b\r\n\r\n", 5);
    n += 5;
    char *b = guard_copy(in, (size_t)n);
    hp_header hdrs[8];
    hp_request req = {0};
    req.headers = hdrs;
    req.num_headers = 8;
    int st = 0;
    int ret = hp_parse_request(b, (size_t)n, &req, NULL, &st);
    guard_free(b, (size_t)n);
    int want_ok = c == '\t' || (c >= 0x20 && c != 0x7f);
    if ((ret > 0) != want_ok) {
      char msg[80];
      snprintf(msg, sizeof msg, "value byte 0x%02x gave %d status %d", c, ret, st);
      mismatch("value byte classes", msg);
      ok = 0;
    }
  }
  return ok;
}

int main(void) {
  build_fixtures();
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    if (check_row(&rows[i])) passes++;
  }
  for (size_t i = 0; i < sizeof crows / sizeof crows[0]; i++) {
    for (int step = 0; step < 2; step++) {
      if (check_chunked(&crows[i], step)) passes++;
    }
    for (int k = 0; k < 4; k++) {
      if (check_chunked(&crows[i], -1)) passes++;
    }
  }
  if (check_byte_classes()) passes++;
  printf("head rows: %zu (each with all its prefixes), chunked rows: %zu (x6 feedings), byte classes: 1\n",
         sizeof rows / sizeof rows[0], sizeof crows / sizeof crows[0]);
  printf("parser tests: %d passed, %d failed\n", passes, failures);
  return failures ? 1 : 0;
}
