// The Node-API glue: the only layer that includes napi.h. Each *_glue.cc file
// adds one group of functions to the addon's exports.
#pragma once
#include <napi.h>

namespace forkserve {

void InitPosix(Napi::Env env, Napi::Object exports);   // posix_glue.cc
void InitSignals(Napi::Env env, Napi::Object exports); // signals_glue.cc
void InitHttp(Napi::Env env, Napi::Object exports);    // http_glue.cc
void InitEngine(Napi::Env env, Napi::Object exports);  // engine_glue.cc
void InitWorkers(Napi::Env env, Napi::Object exports); // workers_glue.cc
void InitPoll(Napi::Env env, Napi::Object exports);    // poll_glue.cc
void InitFiles(Napi::Env env, Napi::Object exports);   // files_glue.cc
void InitProc(Napi::Env env, Napi::Object exports);    // proc_glue.cc (macOS libproc observation)

}  // namespace forkserve
