#include "http/proxy_header.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

namespace http {

static const char kV1[] = "PROXY ";
static const unsigned char kV2[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// A decimal port, 0..65535, without sign or leading garbage.
static bool Port(const char* s, int* out) {
  if (!*s || strlen(s) > 5) return false;
  long v = 0;
  for (const char* p = s; *p; p++) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + (*p - '0');
  }
  if (v > 65535) return false;
  *out = static_cast<int>(v);
  return true;
}

// "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n", "PROXY UNKNOWN ...\r\n".
static long ParseV1(const char* in, size_t len, ProxyAddress* out) {
  const size_t kMaxLine = 107;
  const char* crlf = nullptr;
  for (size_t i = 0; i + 1 < len && i < kMaxLine; i++) {
    if (in[i] == '\r' && in[i + 1] == '\n') {
      crlf = in + i;
      break;
    }
  }
  if (!crlf) return len >= kMaxLine ? -1 : 0;
  char line[kMaxLine + 1];
  size_t n = static_cast<size_t>(crlf - in);
  memcpy(line, in, n);
  line[n] = '\0';
  char* save = nullptr;
  char* tok[7] = {nullptr};
  int count = 0;
  for (char* t = strtok_r(line, " ", &save); t && count < 7; t = strtok_r(nullptr, " ", &save)) tok[count++] = t;
  long used = static_cast<long>(n + 2);
  if (count >= 2 && strcmp(tok[1], "UNKNOWN") == 0) {
    out->local = true;
    return used;
  }
  if (count != 6) return -1;
  int family = strcmp(tok[1], "TCP4") == 0 ? AF_INET : strcmp(tok[1], "TCP6") == 0 ? AF_INET6 : 0;
  if (!family) return -1;
  unsigned char buf[16];
  int dport = 0;
  if (inet_pton(family, tok[2], buf) != 1 || inet_pton(family, tok[3], buf) != 1) return -1;
  if (!Port(tok[4], &out->port) || !Port(tok[5], &dport)) return -1;
  out->local = false;
  out->family = family;
  snprintf(out->host, sizeof out->host, "%s", tok[2]);
  return used;
}

static long ParseV2(const unsigned char* in, size_t len, ProxyAddress* out) {
  if (len < 16) return 0;
  int version = in[12] >> 4, command = in[12] & 0x0F;
  if (version != 2 || command > 1) return -1;
  size_t body = (static_cast<size_t>(in[14]) << 8) | in[15];
  if (16 + body > kMaxProxyHeader) return -1;
  if (len < 16 + body) return 0;
  const unsigned char* a = in + 16;
  int family = in[13] >> 4, transport = in[13] & 0x0F;
  out->local = true;
  if (command == 1 && transport == 1 /* STREAM */) {
    if (family == 1 /* INET */) {
      if (body < 12) return -1;
      inet_ntop(AF_INET, a, out->host, sizeof out->host);
      out->port = (a[8] << 8) | a[9];
      out->family = AF_INET;
      out->local = false;
    } else if (family == 2 /* INET6 */) {
      if (body < 36) return -1;
      inet_ntop(AF_INET6, a, out->host, sizeof out->host);
      out->port = (a[32] << 8) | a[33];
      out->family = AF_INET6;
      out->local = false;
    }
  }
  return static_cast<long>(16 + body);
}

long ParseProxyHeader(const char* in, size_t len, ProxyAddress* out) {
  *out = ProxyAddress();
  if (len == 0) return 0;
  const unsigned char* u = reinterpret_cast<const unsigned char*>(in);
  size_t k = len < 12 ? len : 12;
  if (memcmp(u, kV2, k) == 0) return len < 12 ? 0 : ParseV2(u, len, out);
  k = len < 6 ? len : 6;
  if (memcmp(in, kV1, k) == 0) return len < 6 ? 0 : ParseV1(in, len, out);
  return -1;
}

}  // namespace http
