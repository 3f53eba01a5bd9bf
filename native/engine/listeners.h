// How many listening sockets one server may serve at once (--bind repeated,
// systemd's sockets): every engine's loop and the binding's argument check
// use this one bound. Knows nothing of Node-API.
#pragma once
#include <stddef.h>

namespace engine {

constexpr size_t kMaxListeners = 64;

}  // namespace engine
