// One picture of the Mask lab (dropped mass, A/B keys) computed off the UI thread: at long sequences a picture costs
// a dense pass over every row (O(L²·d)), which must not freeze the window. request(key, compute) asks for a picture;
// while one is being computed the newest request waits and starts when it ends (core's computations take no cancel
// flag, so a running one is never abandoned mid-way); finished() is the last finished one, with its key.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/lab/lab_job.h"

namespace dmascope::gui {

struct LabPicture {
  std::string key;            // what it shows (run, layer, head, strategies)
  std::vector<float> grid;    // [side, side]
  std::int64_t side = 0;
  float high = 1.0f;          // the largest value (the legend's top)
  KeptSetDiff counts;         // A/B only
  std::string error;          // the computation's error, empty when it succeeded
};

class LabPictureJob {
 public:
  explicit LabPictureJob(std::function<void()> wake) : wake_(std::move(wake)) {}
  ~LabPictureJob();
  LabPictureJob(const LabPictureJob&) = delete;
  LabPictureJob& operator=(const LabPictureJob&) = delete;

  // Asks for the picture `key`; `compute` runs on the worker (it must own or share everything it reads).
  void request(const std::string& key, std::function<LabPicture()> compute);
  // Once per frame: starts a waiting request when the worker is free. Returns true when a new picture finished.
  bool poll();
  const LabPicture& finished() const { return finished_; }
  bool busy() const;
  const std::string& wanted_key() const { return wanted_key_; }

 private:
  std::function<void()> wake_;
  std::thread worker_;
  mutable std::mutex mutex_;
  bool running_ = false, done_ = false;
  LabPicture done_picture_;                 // set by the worker
  LabPicture finished_;                     // the UI's copy
  std::string wanted_key_, started_key_;
  std::function<LabPicture()> waiting_;     // the newest request not yet started
};

}  // namespace dmascope::gui
