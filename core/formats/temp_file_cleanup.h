// Temporary files that must not outlive an interrupted process. An atomic write (atomic_write.h) writes a hidden
// temporary next to its target; its destructor removes it on an exception, but SIGINT or SIGTERM end the process
// without running destructors, and a 40 MB ".model.safetensors.tmp-..." stayed behind. Registered paths are removed
// by a signal handler (unlink only: async-signal-safe), which then lets the signal do what it would have done.
#pragma once

namespace dmascope {

// Registers `path` (copied) for removal on SIGINT, SIGTERM or SIGHUP; installs the handlers on first use (never over
// a signal that is ignored, as under nohup). Returns a slot for unregister_temp_file, or -1 when every slot is taken
// (then the file is only removed by its owner, as before).
int register_temp_file(const char* path) noexcept;
void unregister_temp_file(int slot) noexcept;

}  // namespace dmascope
