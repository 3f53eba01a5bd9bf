/*
 * HTTP/1.1 request parser (RFC 9112). Works on bytes only: it knows nothing of
 * sockets, processes or Node-API, never allocates, and never reads outside
 * buf[0..len). Its output points into the caller's buffer.
 *
 * The head parser is stateless: call it again from the start of the buffer
 * when more bytes arrive (HP_INCOMPLETE). The chunked body decoder keeps a
 * small state struct because a body may span many reads.
 */
#ifndef FORKSERVE_HTTP_PARSER_H
#define FORKSERVE_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes (every successful return is >= 0). */
#define HP_INCOMPLETE (-2) /* more bytes are needed */
#define HP_ERROR (-1)      /* the input is rejected; *status says how */

/* Request-target forms, RFC 9112 §3.2. */
enum hp_target_form {
  HP_TARGET_ORIGIN = 0,    /* /path?query */
  HP_TARGET_ABSOLUTE = 1,  /* http://host/path (proxies; accepted) */
  HP_TARGET_AUTHORITY = 2, /* host:port, CONNECT only */
  HP_TARGET_ASTERISK = 3   /* *, OPTIONS only */
};

/* How the message body is framed, RFC 9112 §6.3. */
enum hp_body_kind {
  HP_BODY_NONE = 0,    /* no body */
  HP_BODY_LENGTH = 1,  /* Content-Length: content_length bytes */
  HP_BODY_CHUNKED = 2  /* Transfer-Encoding: ..., chunked */
};

typedef struct {
  const char *name;
  size_t name_len;
  const char *value; /* optional whitespace already trimmed */
  size_t value_len;
} hp_header;

typedef struct {
  size_t max_request_line; /* bytes of the request line incl. CRLF; over it: 414 */
  size_t max_header_bytes; /* bytes of the field section (and of trailers); over it: 431 */
  size_t max_headers;      /* number of header fields; over it: 431 */
} hp_limits;

/* Defaults: 8 KiB request line, 16 KiB header section, 100 fields. */
extern const hp_limits hp_default_limits;

typedef struct {
  const char *method;
  size_t method_len;
  const char *target;
  size_t target_len;
  int target_form;      /* enum hp_target_form */
  int minor_version;    /* 0 or 1; the major version is always 1 */
  hp_header *headers;   /* caller's array */
  size_t num_headers;   /* in: capacity of headers[]; out: fields parsed */
  int body_kind;        /* enum hp_body_kind */
  uint64_t content_length; /* valid when body_kind == HP_BODY_LENGTH */
  int keep_alive;       /* 1.1 default on, 1.0 needs keep-alive; "close" wins */
  int expect_continue;  /* Expect: 100-continue was sent */
  int must_close;       /* the connection must close after the response (e.g. TE with CL) */
} hp_request;

/*
 * Parses one request head (request line and field section up to the empty
 * line) from buf[0..len).
 * Returns the number of bytes the head used (> 0), HP_INCOMPLETE, or
 * HP_ERROR with *status set to the response status: 400 (malformed),
 * 414 (request line too long), 431 (fields too large or too many),
 * 501 (unknown transfer coding), 505 (HTTP major version other than 1).
 * Limits may be NULL for the defaults. req->num_headers must hold the
 * capacity of req->headers on entry; capacity below the field count is 431.
 */
int hp_parse_request(const char *buf, size_t len, hp_request *req,
                     const hp_limits *limits, int *status);

/* State of a chunked body decoder (RFC 9112 §7.1). Zero it to start. */
typedef struct {
  uint64_t chunk_remaining; /* data bytes left in the current chunk */
  size_t line_bytes;        /* bytes seen on the current size/trailer line */
  size_t trailer_bytes;     /* bytes of the trailer section so far */
  int state;                /* private */
} hp_chunked;

/*
 * Decodes chunked framing in place. On entry buf[0..*len) holds raw bytes
 * received after what earlier calls consumed. On return buf[0..*len) holds
 * the body bytes decoded by this call.
 * Returns HP_INCOMPLETE when the body continues; HP_ERROR with *status 400
 * (bad framing, size overflow, missing CRLF) or 431 (trailers larger than
 * limits->max_header_bytes); or, when the last chunk and its trailer section
 * are complete, the number (>= 0) of bytes that followed the message, which
 * are moved to buf[*len .. *len + result) (the next pipelined request).
 * Trailer fields are validated and discarded.
 */
long hp_chunked_decode(hp_chunked *decoder, char *buf, size_t *len,
                       const hp_limits *limits, int *status);

#ifdef __cplusplus
}
#endif

#endif
