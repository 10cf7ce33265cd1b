#include "core/formats/temp_file_cleanup.h"

#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace dmascope {

namespace {

// Fixed storage: the handler may not allocate or lock. A slot is Free, Claimed (its path being copied in: the handler
// skips it) or Active (the handler removes its path).
enum SlotState : int { kFree = 0, kClaimed = 1, kActive = 2 };
struct Slot {
  std::atomic<int> state{kFree};
  char path[PATH_MAX];
};
constexpr std::size_t kSlots = 64;  // atomic writes in flight at once; far more than any front end runs
std::array<Slot, kSlots> slots;
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");

constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
struct sigaction previous_actions[NSIG];

void remove_temp_files_and_reraise(int signal_number, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  for (Slot& slot : slots)
    if (slot.state.load() == kActive) ::unlink(slot.path);
  const struct sigaction& previous = previous_actions[signal_number];
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(signal_number, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(signal_number);
  } else {
    // The default action (end the process): restore it and raise again; the signal is blocked while this handler
    // runs, so it is delivered, with its usual exit status, as soon as the handler returns.
    ::sigaction(signal_number, &previous, nullptr);
    ::raise(signal_number);
  }
  errno = saved_errno;
}

void install_handlers() {
  for (int signal_number : kSignals) {
    struct sigaction current;
    if (::sigaction(signal_number, nullptr, &current) != 0) continue;
    if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN) continue;  // nohup: leave it ignored
    previous_actions[signal_number] = current;
    struct sigaction action {};
    action.sa_sigaction = remove_temp_files_and_reraise;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    ::sigaction(signal_number, &action, nullptr);
  }
}

}  // namespace

int register_temp_file(const char* path) noexcept {
  static std::once_flag installed;
  try {
    std::call_once(installed, install_handlers);
  } catch (...) {
    return -1;
  }
  if (std::strlen(path) >= PATH_MAX) return -1;
  for (std::size_t n = 0; n < kSlots; ++n) {
    int expected = kFree;
    if (slots[n].state.compare_exchange_strong(expected, kClaimed)) {
      std::strcpy(slots[n].path, path);
      slots[n].state.store(kActive);
      return static_cast<int>(n);
    }
  }
  return -1;
}

void unregister_temp_file(int slot) noexcept {
  if (slot >= 0 && static_cast<std::size_t>(slot) < kSlots) slots[static_cast<std::size_t>(slot)].state.store(kFree);
}

}  // namespace dmascope
