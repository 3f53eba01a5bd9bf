// errno(3) names, for error codes users can match on ('EINTR', 'ECHILD').
#pragma once

namespace posix {

// Returns the symbolic name of errno e ("ECHILD"), or nullptr if unknown.
const char* ErrnoName(int e);

}  // namespace posix
