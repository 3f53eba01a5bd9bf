/*
 * libFuzzer target for native/http/parser.c. Each input is parsed as a request
 * head with small and default limits; when the head is complete and has a
 * body, the rest goes through the length framing or hp_chunked_decode in
 * piece sizes derived from the input. Invariants are checked with CHECK,
 * which aborts (assert() would vanish under -DNDEBUG in Release builds).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      abort();                                                              \
    }                                                                       \
  } while (0)

static const hp_limits small_limits = {64, 256, 8};

/* Returns 1 if p[0..n) lies inside buf[0..len). */
static int inside(const char *p, size_t n, const char *buf, size_t len) {
  return p >= buf && p <= buf + len && n <= (size_t)(buf + len - p);
}

/* Returns nothing; decodes buf[0..len) as a chunked body fed in pieces whose
 * sizes come from seed, checking the decoder's invariants. */
static void fuzz_chunked(const char *body, size_t len, const hp_limits *lim, uint8_t seed) {
  char *work = malloc(len ? len : 1);
  CHECK(work != NULL);
  hp_chunked d;
  memset(&d, 0, sizeof d);
  size_t off = 0, total_decoded = 0;
  uint32_t r = seed * 2654435761u + 1;
  while (off < len) {
    r = r * 1103515245u + 12345u;
    size_t piece = seed & 1 ? len - off : 1 + (r >> 16) % 13;
    if (piece > len - off) piece = len - off;
    /* An exact-size heap copy: ASan catches any read past the piece. */
    char *b = malloc(piece);
    CHECK(b != NULL);
    memcpy(b, body + off, piece);
    size_t n = piece;
    int status = 0;
    long ret = hp_chunked_decode(&d, b, &n, lim, &status);
    if (ret == HP_ERROR) {
      CHECK(status == 400 || status == 431);
      free(b);
      break;
    }
    CHECK(n <= piece);
    CHECK(ret == HP_INCOMPLETE || ret >= 0);
    if (ret >= 0) CHECK((size_t)ret + n <= piece);
    memcpy(work + total_decoded, b, n);
    total_decoded += n;
    CHECK(total_decoded <= len);
    free(b);
    off += piece;
    if (ret >= 0) break;
  }
  free(work);
}

/* Returns nothing; parses data with one set of limits and follows the body. */
static void fuzz_once(const uint8_t *data, size_t size, const hp_limits *lim) {
  hp_header hdrs[16];
  hp_request req;
  memset(&req, 0, sizeof req);
  req.headers = hdrs;
  req.num_headers = 16;
  int status = 0;
  const char *buf = (const char *)data;
  int ret = hp_parse_request(buf, size, &req, lim, &status);
  if (ret == HP_INCOMPLETE) return;
  if (ret == HP_ERROR) {
    CHECK(status == 400 || status == 414 || status == 431 || status == 501 || status == 505);
    CHECK(req.must_close == 1);
    return;
  }
  CHECK(ret > 0 && (size_t)ret <= size);
  CHECK(req.num_headers <= 16);
  CHECK(inside(req.method, req.method_len, buf, (size_t)ret) && req.method_len > 0);
  CHECK(inside(req.target, req.target_len, buf, (size_t)ret) && req.target_len > 0);
  CHECK(req.minor_version == 0 || req.minor_version == 1);
  CHECK(req.target_form >= HP_TARGET_ORIGIN && req.target_form <= HP_TARGET_ASTERISK);
  for (size_t i = 0; i < req.num_headers; i++) {
    CHECK(inside(hdrs[i].name, hdrs[i].name_len, buf, (size_t)ret) && hdrs[i].name_len > 0);
    CHECK(inside(hdrs[i].value, hdrs[i].value_len, buf, (size_t)ret));
    /* OWS is trimmed and no CR/LF survives in a value. */
    if (hdrs[i].value_len) {
      CHECK(hdrs[i].value[0] != ' ' && hdrs[i].value[0] != '\t');
      CHECK(hdrs[i].value[hdrs[i].value_len - 1] != ' ');
      CHECK(memchr(hdrs[i].value, '\r', hdrs[i].value_len) == NULL);
      CHECK(memchr(hdrs[i].value, '\n', hdrs[i].value_len) == NULL);
    }
  }
  size_t rest = size - (size_t)ret;
  if (req.body_kind == HP_BODY_CHUNKED) {
    fuzz_chunked(buf + ret, rest, lim, size ? data[size - 1] : 0);
  } else if (req.body_kind == HP_BODY_LENGTH) {
    CHECK(req.content_length <= UINT64_C(0x7fffffffffffffff));
  } else {
    CHECK(req.body_kind == HP_BODY_NONE);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* An exact-size copy so that ASan sees any over-read of the input. */
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  fuzz_once(copy, size, &small_limits);
  fuzz_once(copy, size, NULL);
  /* The decoder on its own: the whole input as a chunked body. */
  fuzz_chunked((const char *)copy, size, &small_limits, size ? copy[0] : 0);
  free(copy);
  return 0;
}
