#include "core/base/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/base/error.h"
#include "core/base/printable.h"

namespace dmascope {

std::string_view file_kind_name(unsigned mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "of an unknown kind";
}

int open_regular_file(const std::filesystem::path& path, std::string_view what) {
  const std::string shown = printable(path.string());
  // stat first, so that a directory gets its own message; then O_NONBLOCK, so that even a FIFO swapped in after the
  // stat cannot block the open; fstat on the descriptor is the check that counts.
  struct stat info;
  if (::stat(path.c_str(), &info) != 0)
    fail("{}: cannot open {}: {}", shown, what, std::strerror(errno));
  if (!S_ISREG(info.st_mode)) fail("{}: {} is {}, not a regular file", shown, what, file_kind_name(info.st_mode));
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) fail("{}: cannot open {}: {}", shown, what, std::strerror(errno));
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    const mode_t mode = info.st_mode;
    ::close(fd);
    fail("{}: {} is {}, not a regular file", shown, what, file_kind_name(mode));
  }
  // Back to blocking reads: on a regular file O_NONBLOCK changes nothing, but say what we mean.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

std::string read_regular_file(const std::filesystem::path& path, std::string_view what, std::uint64_t max_bytes) {
  const int fd = open_regular_file(path, what);
  struct stat info;
  ::fstat(fd, &info);  // cannot fail on a descriptor open_regular_file just checked
  const auto size = static_cast<std::uint64_t>(info.st_size);
  if (size > max_bytes) {
    ::close(fd);
    fail("{}: {} is {} bytes, more than the cap of {} bytes for it", printable(path.string()), what, size,
         max_bytes);
  }
  std::string text;
  text.resize(static_cast<std::size_t>(size));
  std::size_t done = 0;
  // Read to the end even past the stat size (the file may grow), but never past the cap.
  while (true) {
    if (done == text.size()) {
      if (text.size() > max_bytes) break;
      text.resize(std::min<std::uint64_t>(max_bytes + 1, text.size() + 65536));
    }
    const ::ssize_t got = ::read(fd, text.data() + done, text.size() - done);
    if (got < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      fail("{}: reading {} failed: {}", printable(path.string()), what, std::strerror(error));
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  ::close(fd);
  if (done > max_bytes)
    fail("{}: {} grew past the {} bytes dmascope reads while it was being read", printable(path.string()), what,
         max_bytes);
  text.resize(done);
  return text;
}

}  // namespace dmascope
