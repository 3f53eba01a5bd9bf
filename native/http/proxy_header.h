// The PROXY protocol header (HAProxy's spec, versions 1 and 2), which a
// load balancer sends before the first byte of HTTP to say whom the
// connection is really from. Parses bytes only: it knows nothing of sockets.
#pragma once
#include <stddef.h>

namespace http {

struct ProxyAddress {
  bool local = false;   // LOCAL (v2, health checks) or UNKNOWN (v1): keep the connection's own address
  int family = 0;       // AF_INET or AF_INET6 when !local
  char host[46] = {0};  // the source address, numeric
  int port = 0;         // the source port
};

// Longest header accepted: a v1 line is at most 107 bytes; a v2 header's
// TLVs are bounded here (the spec lets a receiver cap them).
constexpr size_t kMaxProxyHeader = 1024;

// Parses a PROXY header at in[0..len). Returns the bytes it takes (> 0)
// and fills *out; 0 when the bytes so far are a valid beginning and more
// are needed; -1 when they are not a PROXY header (the connection must be
// closed without an answer). Only the PROXY (v2) and TCP4/TCP6 (v1 and v2)
// forms give an address; LOCAL, UNKNOWN and the other v2 families are
// accepted with local = true.
long ParseProxyHeader(const char* in, size_t len, ProxyAddress* out);

}  // namespace http
