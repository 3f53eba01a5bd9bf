// libFuzzer target for the whole HTTP/1.1 connection core (http/conn_core.h),
// not only the parser: a byte stream is fed to one core at once and to a
// second core in pieces cut at points the input chooses, each answered as
// an engine would (every request gets a response; a rejected one gets its
// error response and the connection ends). Asserted, under ASan and UBSan:
//   - no crash, no leak, no out-of-bounds access;
//   - the same request events (method, target, version, fields, body,
//     persistence) and the same bytes out, whatever the split points
//     (100 Continue apart: it is sent only while a body is still missing);
//   - every request and every error answered with exactly one response.
//
// Input: byte 0: low 4 bits, the number of split points (each two bytes
// next, little-endian, taken modulo the stream's length); bit 4, a PROXY
// header comes first; bit 5, Connection: close is forced (keep_alive off).
// The rest is the stream.
//
//   npm run fuzz -- --target conn --minutes 5
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <string>
#include <vector>

#include "http/conn_core.h"

namespace {

struct Outcome {
  std::string events;  // one line per request event, and how the stream ended
  std::string out;     // every byte the core queued, 100 Continue left out
  int responses = 0;   // final responses the engine asked for
};

void Fail(const char* what, const Outcome& a, const Outcome& b) {
  fprintf(stderr, "fuzz_conn: %s\n--- whole:\n%s\n--- split:\n%s\n", what, a.events.c_str(), b.events.c_str());
  abort();
}

// Drains the core's output queue into o->out, with each Date field's value
// left out (the clock may tick between the two runs).
void TakeOutput(http::ConnCore* core, Outcome* o) {
  std::string bytes(core->pending_data(), core->pending());
  core->Written(core->pending());
  for (size_t at = bytes.find("\r\nDate: "); at != std::string::npos; at = bytes.find("\r\nDate: ", at + 2)) {
    size_t end = bytes.find("\r\n", at + 2);
    bytes.replace(at + 8, end - (at + 8), "-");
  }
  o->out += bytes;
}

void Describe(const http::Request& r, bool keep_alive, std::string* out) {
  const hp_request& h = r.head;
  out->append("REQ ").append(h.method, h.method_len).append(" ").append(h.target, h.target_len);
  out->append(" 1.").append(std::to_string(h.minor_version)).append(keep_alive ? " keep" : " close");
  for (size_t i = 0; i < h.num_headers; i++)
    out->append(" [").append(h.headers[i].name, h.headers[i].name_len).append(": ").append(h.headers[i].value, h.headers[i].value_len).append("]");
  out->append(" body ").append(std::to_string(r.body_len)).append(":").append(r.body, r.body_len).append("\n");
}

// Feeds the pieces in order and answers as an engine does; stops at the
// first reject, drop, close, or when the input runs out.
Outcome Run(const uint8_t* data, size_t len, const std::vector<size_t>& cuts, const http::CoreLimits& limits) {
  Outcome o;
  http::ConnCore core;
  core.proxy_pending = limits.proxy_protocol;
  http::Request req;
  size_t fed = 0, next_cut = 0;
  for (;;) {
    int status = 0;
    http::Step s = core.Advance(limits, &req, &status);
    if (s == http::Step::kRequest) {
      Describe(req, core.keep_alive, &o.events);
      http::ResponseHead head;
      head.fields.emplace_back("Content-Type", "text/plain");
      if (!core.QueueHead(head, 2, true)) abort();  // a valid head must always format
      if (core.send_body) core.Queue("ok", 2);
      o.responses++;
      TakeOutput(&core, &o);
      if (!core.keep_alive) {
        o.events.append("CLOSE after response\n");
        return o;
      }
      core.NextRequest();
      continue;
    }
    if (s == http::Step::kReject) {
      if (status < 400 || status > 599) abort();  // an error answer is a 4xx or 5xx
      o.events.append("REJECT ").append(std::to_string(status)).append("\n");
      core.QueueError(status);
      o.responses++;
      TakeOutput(&core, &o);
      return o;
    }
    if (s == http::Step::kDrop) {
      o.events.append("DROP\n");
      return o;
    }
    // kNeedMore: a 100 Continue may be queued; it is interim, left out.
    core.Written(core.pending());
    if (fed == len) {
      o.events.append(core.state == http::ConnState::kHead && core.in_end == 0 ? "EOF idle\n" : "EOF mid-request\n");
      return o;
    }
    size_t until = next_cut < cuts.size() ? cuts[next_cut++] : len;
    if (!core.Feed(reinterpret_cast<const char*>(data) + fed, until - fed)) abort();
    fed = until;
  }
}

// Counts the status lines in out: every final response starts with one.
int CountResponses(const std::string& out) {
  int n = 0;
  for (size_t at = out.find("HTTP/1.1 "); at != std::string::npos; at = out.find("HTTP/1.1 ", at + 1)) n++;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t flags = data[0];
  size_t ncuts = flags & 0x0f;
  if (size < 1 + 2 * ncuts) return 0;
  const uint8_t* stream = data + 1 + 2 * ncuts;
  size_t len = size - 1 - 2 * ncuts;
  std::vector<size_t> cuts;
  for (size_t i = 0; i < ncuts && len > 0; i++) cuts.push_back((data[1 + 2 * i] | data[2 + 2 * i] << 8) % len);
  std::sort(cuts.begin(), cuts.end());

  http::CoreLimits limits;
  limits.parser = {256, 512, 16};  // small limits, so the fuzzer reaches them
  limits.max_body = 1024;
  limits.proxy_protocol = (flags & 0x10) != 0;
  limits.keep_alive = (flags & 0x20) == 0;

  Outcome whole = Run(stream, len, {}, limits);
  Outcome split = Run(stream, len, cuts, limits);
  if (whole.events != split.events) Fail("request events differ with the split points", whole, split);
  if (whole.out != split.out) Fail("output bytes differ with the split points", whole, split);
  if (CountResponses(whole.out) != whole.responses) Fail("not exactly one response per request or error", whole, split);
  return 0;
}
