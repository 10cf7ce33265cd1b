#include "app/gui/panels/lab_picture_job.h"

#include <exception>

namespace dmascope::gui {

LabPictureJob::~LabPictureJob() {
  if (worker_.joinable()) worker_.join();  // a picture takes at most one dense pass over a head
}

void LabPictureJob::request(const std::string& key, std::function<LabPicture()> compute) {
  if (key == wanted_key_) return;
  wanted_key_ = key;
  waiting_ = std::move(compute);
  poll();
}

bool LabPictureJob::poll() {
  bool finished_new = false;
  {
    std::lock_guard lock(mutex_);
    if (done_) {
      done_ = false;
      finished_ = std::move(done_picture_);
      finished_new = true;
    }
    if (running_ || !waiting_) return finished_new;
    running_ = true;
  }
  if (worker_.joinable()) worker_.join();  // it has ended: running_ was false
  started_key_ = wanted_key_;
  worker_ = std::thread([this, compute = std::move(waiting_), key = started_key_] {
    LabPicture picture;
    try {
      picture = compute();
    } catch (const std::exception& error) {
      picture.error = error.what();
    }
    picture.key = key;
    {
      std::lock_guard lock(mutex_);
      done_picture_ = std::move(picture);
      done_ = true;
      running_ = false;
    }
    if (wake_) wake_();
  });
  waiting_ = nullptr;
  return finished_new;
}

bool LabPictureJob::busy() const {
  std::lock_guard lock(mutex_);
  return running_ || done_ || static_cast<bool>(waiting_);
}

}  // namespace dmascope::gui
