// Values crossing the glue in both directions: HTTP text as JS strings, and
// the limits object the engines take (HttpLimits in src/engines/types.ts).
#pragma once
#include <napi.h>

#include "engine/conn.h"
#include "engine/file_send.h"
#include "posix/files.h"
#include "posix/sys.h"

namespace forkserve {

// Returns a JS string holding the bytes p[0..n) as Latin-1: HTTP field text
// is opaque octets (RFC 9110 §5.5), as in node:http.
Napi::String Latin1(Napi::Env env, const char* p, size_t n);

// Returns the number at o[key], def when it is undefined. Throws TypeError
// if it is not a number, RangeError if it is not an integer in [min, max].
double IntOption(Napi::Env env, Napi::Object o, const char* key, double def, double min, double max);

// Returns the engine limits from an options object ({ maxRequestLine,
// maxHeaderBytes, maxHeaders, maxBodyBytes, headersTimeoutMs,
// keepAliveTimeoutMs, keepAlive, proxyProtocol }); defaults for what is missing, and for
// every field when v is undefined. Throws TypeError/RangeError on misuse.
engine::Limits LimitsFrom(Napi::Env env, Napi::Value v);

// Returns the JS shape of an open file (files_glue.cc): { fd, kind, size,
// mtimeSec, mtimeNsec, ino, dev }.
Napi::Object FileObject(Napi::Env env, int fd, const posix::FileStat& st);

// Returns the file segment a response body names: { fd, offset, length,
// size, mtimeSec, mtimeNsec, ino, dev } (an open file's shape plus the byte
// range). Throws TypeError/RangeError on misuse; the fd is not closed then.
engine::FileSegment FileSegmentFrom(Napi::Env env, Napi::Value v);

// Returns a socket address as JS sees one: { family: 'IPv4' | 'IPv6' | 'unix'
// | 'unknown', address, port } (port 0 and the path as address for AF_UNIX).
Napi::Object AddressObject(Napi::Env env, const posix::SockAddr& a);

// Returns a waitpid(2) status as JS sees one (RawWaitStatus in
// src/native.ts): { pid, exited, exitCode, signaled, signal, coreDumped, stopped }.
Napi::Object WaitStatusObject(Napi::Env env, const posix::WaitStatus& st);

}  // namespace forkserve
