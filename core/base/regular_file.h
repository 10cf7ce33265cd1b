// Reading files named by a user or by another file, safely: only regular files are opened (a FIFO named config.json
// would block open() forever, /dev/zero would never end), and a file read whole has a size cap that is checked before
// a byte is read, so a hostile or mistaken path costs an error in milliseconds, not a hang or all of memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace dmascope {

// What a non-regular file is, for messages: "a directory", "a FIFO (named pipe)", "a character device", ...
std::string_view file_kind_name(unsigned mode);

// Opens `path` read-only without blocking and returns the descriptor (O_CLOEXEC); throws Error naming `what` and the
// path when it is missing, a directory, or anything but a regular file. The caller closes the descriptor.
int open_regular_file(const std::filesystem::path& path, std::string_view what);

// The whole content of `path` (see open_regular_file), refused with an Error naming the file, the cap and the size
// when it holds more than `max_bytes`. `what` says what the file is for ("the model config").
std::string read_regular_file(const std::filesystem::path& path, std::string_view what, std::uint64_t max_bytes);

}  // namespace dmascope
