#include "http/response.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

namespace http {

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

static bool IsTchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool ValidField(const std::string& name, const std::string& value) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (c == 0 || !IsTchar(c)) return false;
  for (unsigned char c : value)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

void HttpDate(char out[29]) {
  static time_t cached_at = 0;
  static char cached[64];
  time_t now = time(nullptr);
  if (now != cached_at) {
    static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(cached, sizeof cached, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
             kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_at = now;
  }
  memcpy(out, cached, 29);
}

static bool NameIs(const std::string& name, const char* want) { return strcasecmp(name.c_str(), want) == 0; }

bool FormatHead(const ResponseHead& head, const FramingInput& in, std::string* out, Framing* framing) {
  bool has_date = false, has_server = false, has_length = false, has_te = false, has_connection = false;
  bool app_close = false;
  for (const auto& f : head.fields) {
    if (!ValidField(f.first, f.second)) return false;
    if (NameIs(f.first, "date")) has_date = true;
    else if (NameIs(f.first, "server")) has_server = true;
    else if (NameIs(f.first, "content-length")) has_length = true;
    else if (NameIs(f.first, "transfer-encoding")) has_te = true;
    else if (NameIs(f.first, "connection")) {
      has_connection = true;
      if (strcasestr(f.second.c_str(), "close")) app_close = true;
    }
  }
  const int s = head.status;
  Framing fr;
  // RFC 9110 §6.4.1: 1xx, 204 and 304 never have content; HEAD gets none.
  const bool no_content = (s >= 100 && s < 200) || s == 204 || s == 304;
  fr.send_body = !no_content && !in.head_request;
  fr.keep_alive = in.keep_alive && !app_close;
  bool stream = !no_content && in.body_length < 0 && !has_length;
  if (stream && !has_te) {
    // HTTP/1.0 has no chunked coding: the end of the body is the close.
    if (in.minor_version >= 1) fr.chunked = true;
    else fr.keep_alive = false;
  }
  if (has_te) fr.chunked = true;  // the app framed it; trust its Transfer-Encoding

  const char* reason = head.reason.empty() ? ReasonPhrase(s) : head.reason.c_str();
  char line[64];
  snprintf(line, sizeof line, "HTTP/1.1 %03d ", s);
  out->reserve(out->size() + 256);
  out->append(line).append(reason).append("\r\n");
  if (!has_server && in.server && *in.server) out->append("Server: ").append(in.server).append("\r\n");
  if (!has_date) {
    char date[29];
    HttpDate(date);
    out->append("Date: ").append(date, 29).append("\r\n");
  }
  for (const auto& f : head.fields) out->append(f.first).append(": ").append(f.second).append("\r\n");
  // A HEAD response carries the Content-Length a GET would have (RFC 9110
  // §8.6). An app that answers HEAD with no body (as frameworks do) gives
  // no length to report: send none rather than a wrong 0.
  bool head_unknown = in.head_request && in.body_length == 0;
  if (!no_content && !has_length && in.body_length >= 0 && !head_unknown) {
    snprintf(line, sizeof line, "Content-Length: %lld\r\n", static_cast<long long>(in.body_length));
    out->append(line);
  }
  if (fr.chunked && !has_te) out->append("Transfer-Encoding: chunked\r\n");
  if (!has_connection) {
    if (!fr.keep_alive) out->append("Connection: close\r\n");
    else if (in.minor_version == 0) out->append("Connection: keep-alive\r\n");
  }
  out->append("\r\n");
  *framing = fr;
  return true;
}

bool StartsWithHead(const char* in, size_t len) { return len >= 5 && memcmp(in, "HEAD ", 5) == 0; }

std::string ErrorResponse(int status, bool head) {
  const char* reason = ReasonPhrase(status);
  char date[29];
  HttpDate(date);
  std::string body = std::to_string(status) + " " + reason + "\n";
  std::string out;
  out.reserve(200);
  out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(reason).append("\r\n");
  out.append("Server: forkserve\r\nDate: ").append(date, 29).append("\r\n");
  out.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  out.append(std::to_string(body.size())).append("\r\nConnection: close\r\n\r\n");
  if (!head) out.append(body);
  return out;
}

}  // namespace http
