// HTTP/1.1 response heads (RFC 9112 §4, RFC 9110 §15). Formats bytes only:
// it knows nothing of sockets. The engine writes what it builds.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <string>
#include <utility>
#include <vector>

namespace http {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct ResponseHead {
  int status = 200;
  std::string reason;       // empty: the standard phrase for status
  Fields fields;            // as the app set them
};

struct FramingInput {
  int minor_version = 1;    // of the request: 1.0 peers get no chunked coding
  bool head_request = false;  // HEAD: headers as for GET, no body (RFC 9110 §9.3.2)
  bool keep_alive = true;   // the request allows the connection to persist
  int64_t body_length = -1; // known body length, or -1 to stream
  const char* server = "forkserve";
};

// How the body that follows the head must be written.
struct Framing {
  bool send_body = true;  // false for HEAD, 1xx, 204, 304
  bool chunked = false;   // write the body with the chunked coding
  bool keep_alive = true; // the connection may carry another request
};

// Returns the reason phrase of a status code ("Not Found"), or "Unknown".
const char* ReasonPhrase(int status);

// Returns true when name is a token and value has only field-value characters
// (no CR, LF or NUL: a response-splitting guard, RFC 9110 §5.5).
bool ValidField(const std::string& name, const std::string& value);

// Appends the status line and fields to out, adding Date, Server,
// Content-Length / Transfer-Encoding and Connection unless the app set them,
// and returns how the body is framed. Returns false (out unchanged) when a
// field is invalid.
bool FormatHead(const ResponseHead& head, const FramingInput& in, std::string* out, Framing* framing);

// Writes the IMF-fixdate of now (RFC 9110 §5.6.7) into out[29]; the text is
// computed once per second.
void HttpDate(char out[29]);

// A complete, minimal response for errors found before the app runs (400,
// 408, 413, 414, 431, 501, 503, 505): closes the connection. To a HEAD
// request it has the same header section and no body (RFC 9110 §9.3.2).
std::string ErrorResponse(int status, bool head = false);

// True when the request bytes in[0..len) start with the method HEAD: what
// an error response can know of a request it could not parse.
bool StartsWithHead(const char* in, size_t len);

}  // namespace http
