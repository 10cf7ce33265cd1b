#include "core/formats/atomic_write.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

#include "core/base/error.h"
#include "core/base/printable.h"
#include "core/base/regular_file.h"
#include "core/formats/temp_file_cleanup.h"

namespace dmascope {

namespace {

std::string errno_text(int error) { return std::strerror(error); }

std::filesystem::path directory_of(const std::filesystem::path& path) {
  const auto parent = path.parent_path();
  return parent.empty() ? std::filesystem::path(".") : parent;
}

// A name that no other writer (thread or process) picks: pid, a process-wide counter and a random tag. The leading
// dot keeps it out of casual directory listings while it exists.
std::filesystem::path temp_name_for(const std::filesystem::path& path) {
  static std::atomic<unsigned> counter{0};
  thread_local std::mt19937 random{std::random_device{}()};
  return directory_of(path) /
         fmt::format(".{}.tmp-{}-{}-{:06x}", path.filename().string(), ::getpid(), counter++, random() & 0xFFFFFF);
}

// Best effort: makes the rename itself durable. Failing here does not undo a completed rename, so it is not an error.
void sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void check_output_target(const std::filesystem::path& path, const OutputRule& rule) {
  const std::string shown = printable(path.string());
  if (path.filename().empty() || path.filename() == "." || path.filename() == "..")
    fail("{}: not a file path (no file name to write)", shown);
  struct stat target;
  if (::stat(path.c_str(), &target) != 0) {
    if (errno == ENOENT) return;  // a new file: nothing to protect
    fail("{}: cannot check the output file: {}", shown, errno_text(errno));
  }
  if (!S_ISREG(target.st_mode))
    fail("{}: the output is {}, not a regular file; dmascope only writes regular files", shown,
         file_kind_name(target.st_mode));
  for (const auto& input : rule.inputs) {
    struct stat read;
    if (::stat(input.c_str(), &read) == 0 && read.st_dev == target.st_dev && read.st_ino == target.st_ino)
      fail("{}: the output is {}, an input of this command; writing it would destroy what is being read", shown,
           input == path ? std::string("the same file") : fmt::format("the same file as {}", printable(input.string())));
  }
  if ((target.st_mode & 0222) == 0)
    fail("{}: the output exists and is read-only; dmascope does not replace read-only files", shown);
  if (!rule.force) fail("{}: the output file exists; pass --force to replace it", shown);
}

AtomicFileWriter::AtomicFileWriter(std::filesystem::path path, const OutputRule& rule) : path_(std::move(path)) {
  check_output_target(path_, rule);
  for (int attempt = 0; attempt < 16 && fd_ < 0; ++attempt) {
    temp_path_ = temp_name_for(path_);
    // 0666 lets the umask decide, as for any newly created file.
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0)
    fail("{}: cannot create a temporary file in {} to write it: {}", path_.string(), directory_of(path_).string(),
         errno_text(errno));
  cleanup_slot_ = register_temp_file(temp_path_.c_str());
  // Replacing a file keeps its permissions (a checkpoint someone made read-only for others stays that way).
  struct stat existing;
  if (::stat(path_.c_str(), &existing) == 0 && S_ISREG(existing.st_mode)) ::fchmod(fd_, existing.st_mode & 07777);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) discard();
}

void AtomicFileWriter::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  unregister_temp_file(cleanup_slot_);
  cleanup_slot_ = -1;
}

void AtomicFileWriter::write(const void* data, std::size_t size) {
  if (fd_ < 0) fail("{}: write after the file was committed or discarded", path_.string());
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ::ssize_t written = ::write(fd_, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      discard();
      fail("{}: writing failed: {}", path_.string(), errno_text(error));
    }
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
}

void AtomicFileWriter::commit() {
  if (fd_ < 0) fail("{}: commit after the file was committed or discarded", path_.string());
  if (::fsync(fd_) != 0) {
    const int error = errno;
    discard();
    fail("{}: flushing to disk failed: {}", path_.string(), errno_text(error));
  }
  const int close_result = ::close(fd_);
  fd_ = -1;
  if (close_result != 0) {
    const int error = errno;
    discard();
    fail("{}: closing the temporary file failed: {}", path_.string(), errno_text(error));
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int error = errno;
    discard();
    fail("{}: cannot replace it with the newly written file: {}", path_.string(), errno_text(error));
  }
  committed_ = true;
  unregister_temp_file(cleanup_slot_);
  cleanup_slot_ = -1;
  sync_directory(directory_of(path_));
}

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes, const OutputRule& rule) {
  AtomicFileWriter writer(path, rule);
  writer.write(bytes);
  writer.commit();
}

void write_file_atomically(const std::filesystem::path& path, const std::function<void(AtomicFileWriter&)>& produce,
                           const OutputRule& rule) {
  AtomicFileWriter writer(path, rule);
  produce(writer);
  writer.commit();
}

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  write_file_atomically(path, bytes, OutputRule{.force = true, .inputs = {}});
}

void write_file_atomically(const std::filesystem::path& path, const std::function<void(AtomicFileWriter&)>& produce) {
  write_file_atomically(path, produce, OutputRule{.force = true, .inputs = {}});
}

}  // namespace dmascope
