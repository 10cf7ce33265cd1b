// Whole-file writes that never leave a half-written file behind: the bytes go to a temporary file in the target's
// directory, which is fsync'ed and then renamed over the target. Readers (and memory mappings of the old file) see
// either the old file or the new one, never a mix; a failed or interrupted write leaves the old file as it was.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace dmascope {

// The one rule for every file dmascope writes: never over anything but a regular file (a device node, a FIFO, a
// directory), never over a read-only file, never over a file the same command reads (`inputs`: the same file even
// under another name, by device and inode), and never over an existing file unless `force` says the caller means it
// (the CLI's --force; a save dialog whose user picked the file; the app's own state files).
struct OutputRule {
  bool force = false;
  std::vector<std::filesystem::path> inputs;
};

// Throws Error naming `path` when the rule forbids writing it.
void check_output_target(const std::filesystem::path& path, const OutputRule& rule);

// One atomic write in progress. The destructor removes the temporary file unless commit() succeeded, so an
// exception anywhere between construction and commit() leaves nothing behind; the temporary is also registered with
// temp_file_cleanup.h, so that SIGINT or SIGTERM during the write leave nothing behind either.
class AtomicFileWriter {
 public:
  // Checks `rule` (see OutputRule), then creates the temporary file next to `path`.
  AtomicFileWriter(std::filesystem::path path, const OutputRule& rule);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, std::size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // fsync + rename over the target + fsync of the directory. After this the writer is spent.
  void commit();

  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& temp_path() const { return temp_path_; }

 private:
  void discard() noexcept;

  std::filesystem::path path_;
  std::filesystem::path temp_path_;
  int fd_ = -1;
  int cleanup_slot_ = -1;
  bool committed_ = false;
};

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes, const OutputRule& rule);
// For large outputs: `produce` streams the bytes through writer.write(); if it throws, the target is untouched.
void write_file_atomically(const std::filesystem::path& path, const std::function<void(AtomicFileWriter&)>& produce,
                           const OutputRule& rule);
// For paths the caller owns or the user picked in a save dialog (session files, the recent list, exports under
// fresh names): replacing an existing regular file is what is meant, so these pass force; the rest of the rule holds.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);
void write_file_atomically(const std::filesystem::path& path, const std::function<void(AtomicFileWriter&)>& produce);

}  // namespace dmascope
