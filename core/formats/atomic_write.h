// Whole-file writes that never leave a half-written file behind: the bytes go to a temporary file in the target's
// directory, which is fsync'ed and then renamed over the target. Readers (and memory mappings of the old file) see
// either the old file or the new one, never a mix; a failed or interrupted write leaves the old file as it was.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace dmascope {

// One atomic write in progress. The destructor removes the temporary file unless commit() succeeded, so an
// exception anywhere between construction and commit() leaves nothing behind.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::filesystem::path path);  // creates the temporary file next to `path`
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
  bool committed_ = false;
};

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);
// For large outputs: `produce` streams the bytes through writer.write(); if it throws, the target is untouched.
void write_file_atomically(const std::filesystem::path& path, const std::function<void(AtomicFileWriter&)>& produce);

}  // namespace dmascope
