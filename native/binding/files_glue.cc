// forkserve/posix's file functions for serving: openBeneath (a path opened
// beneath a directory descriptor, never outside it) and listDir. The file
// they open is sent by the engines with sendfile(2) (respondFile/writeFile).
#include <errno.h>
#include <unistd.h>

#include <vector>

#include "binding/addon.h"
#include "binding/errors.h"
#include "binding/values.h"
#include "posix/files.h"

namespace forkserve {

static const char* KindName(posix::FileKind k) {
  return k == posix::FileKind::kRegular ? "file" : k == posix::FileKind::kDirectory ? "directory" : "other";
}

// openBeneath(dirFd, path: Buffer | string, followSymlinks?: boolean)
//   -> { fd, kind: 'file'|'directory'|'other', size, mtimeSec, mtimeNsec, ino, dev }
// Throws SystemError (syscall 'openat'): EXDEV for a ".." component, ELOOP
// for a symlink (unless followSymlinks), ENOENT, ENOTDIR, EACCES,
// ENAMETOOLONG; TypeError on misuse.
static Napi::Value OpenBeneath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int dir_fd = ArgFd(info, 0, "dirFd");
  std::string path;
  if (info.Length() > 1 && info[1].IsBuffer()) {
    auto b = info[1].As<Napi::Buffer<char>>();
    path.assign(b.Data(), b.Length());
  } else if (info.Length() > 1 && info[1].IsString()) {
    path = info[1].As<Napi::String>().Utf8Value();
  } else {
    ThrowTypeError(env, "The \"path\" argument must be a Buffer or a string");
  }
  bool follow = info.Length() > 2 && info[2].ToBoolean().Value();
  int fd = posix::OpenBeneath(dir_fd, path.data(), path.size(), follow);
  if (fd < 0) ThrowSystemError(env, fd, "openat");
  posix::FileStat st;
  int r = posix::Fstat(fd, &st);
  if (r < 0) {
    close(fd);
    ThrowSystemError(env, r, "fstat");
  }
  return FileObject(env, fd, st);
}

// listDir(fd) -> Array<[name: string, kind: 'file'|'directory'|'other']>
// Throws SystemError (syscall 'readdir'), TypeError on misuse.
static Napi::Value ListDir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  std::vector<posix::DirEntry> entries;
  int r = posix::ListDir(fd, &entries);
  if (r < 0) ThrowSystemError(env, r, "readdir");
  Napi::Array out = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); i++) {
    Napi::Array e = Napi::Array::New(env, 2);
    e.Set(0u, Napi::String::New(env, entries[i].name));
    e.Set(1u, Napi::String::New(env, KindName(entries[i].kind)));
    out.Set(static_cast<uint32_t>(i), e);
  }
  return out;
}

Napi::Object FileObject(Napi::Env env, int fd, const posix::FileStat& st) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", fd);
  o.Set("kind", KindName(st.kind));
  o.Set("size", static_cast<double>(st.size));
  o.Set("mtimeSec", static_cast<double>(st.mtime_sec));
  o.Set("mtimeNsec", static_cast<double>(st.mtime_nsec));
  o.Set("ino", static_cast<double>(st.ino));
  o.Set("dev", static_cast<double>(st.dev));
  return o;
}

// Reads an unsigned integer property (a double that holds one exactly).
static uint64_t U64(Napi::Env env, Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) ThrowTypeError(env, std::string("file.") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<uint64_t>(d)))
    ThrowRangeError(env, std::string("file.") + key + " must be a non-negative integer");
  return static_cast<uint64_t>(d);
}

engine::FileSegment FileSegmentFrom(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) ThrowTypeError(env, "The \"file\" argument must be an object");
  Napi::Object o = v.As<Napi::Object>();
  engine::FileSegment seg;
  uint64_t fd = U64(env, o, "fd");
  seg.offset = U64(env, o, "offset");
  seg.left = U64(env, o, "length");
  seg.version.kind = posix::FileKind::kRegular;
  seg.version.size = U64(env, o, "size");
  seg.version.mtime_sec = static_cast<int64_t>(U64(env, o, "mtimeSec"));
  seg.version.mtime_nsec = static_cast<int64_t>(U64(env, o, "mtimeNsec"));
  seg.version.ino = U64(env, o, "ino");
  seg.version.dev = U64(env, o, "dev");
  if (seg.offset + seg.left > seg.version.size) ThrowRangeError(env, "file.offset + file.length is past file.size");
  if (fd > 0x7fffffff) ThrowRangeError(env, "file.fd is not a descriptor");
  seg.fd = static_cast<int>(fd);
  return seg;
}

void InitFiles(Napi::Env env, Napi::Object exports) {
  exports.Set("openBeneath", Napi::Function::New(env, OpenBeneath, "openBeneath"));
  exports.Set("listDir", Napi::Function::New(env, ListDir, "listDir"));
}

}  // namespace forkserve
