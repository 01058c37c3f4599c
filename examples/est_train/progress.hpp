#pragma once
// est-train's live progress: on a terminal one line rewritten in place (at most ~8 times a
// second); otherwise a line every 5% of the run. Validation losses get lines of their own.

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include <est/subnet/flops.hpp>
#include <est/train/trainer.hpp>

namespace est_train {

inline std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", s);
  }
  return buf;
}

class Progress {
 public:
  /// `first_step`: the step the run starts (or resumes) at; `tokens_per_step`: B·T·micro-batches.
  Progress(std::string label, std::int64_t first_step, std::int64_t total_steps,
           std::int64_t tokens_per_step, bool quiet)
      : label_(std::move(label)), first_(first_step), total_(total_steps),
        tokens_per_step_(tokens_per_step), quiet_(quiet), tty_(::isatty(1) != 0) {}

  void update(const est::StepReport& r, const est::FlopsMeter& flops, double elapsed,
              double val_loss) {
    if (quiet_) return;
    const double tokens_per_second = r.seconds > 0 ? double(tokens_per_step_) / r.seconds : 0;
    const std::int64_t done = r.step + 1;
    session_seconds_ += r.seconds;
    const double eta = session_seconds_ / double(done - first_) * double(total_ - done);
    char line[256];
    std::snprintf(line, sizeof line,
                  "[%s] step %lld/%lld | loss %.4f | lr %.2e | %.0f tok/s | subnet L %d H %.1f "
                  "M %.0f | FLOPs saved %.1f%% | ETA %s%s",
                  label_.c_str(), static_cast<long long>(done), static_cast<long long>(total_),
                  r.loss, r.lr, tokens_per_second, r.active_layers, r.active_heads,
                  r.active_neurons, 100.0 * flops.saving(), duration_text(eta).c_str(),
                  r.skipped ? " | non-finite: skipped" : "");
    const auto now = std::chrono::steady_clock::now();
    const bool due = now - last_print_ > std::chrono::milliseconds(125);
    if (tty_) {
      if (due || done == total_ || std::isfinite(val_loss)) {
        std::printf("\r%-150s", line);
        last_print_ = now;
      }
    } else if (done % std::max<std::int64_t>(1, total_ / 20) == 0 || done == total_ || r.skipped) {
      std::printf("%s\n", line);
    }
    if (std::isfinite(val_loss)) {
      std::printf("%s[%s] step %lld/%lld | val loss %.4f | %s of training\n", tty_ ? "\n" : "",
                  label_.c_str(), static_cast<long long>(done), static_cast<long long>(total_),
                  val_loss, duration_text(elapsed).c_str());
    }
    std::fflush(stdout);
  }

  void finish() {
    if (!quiet_ && tty_) std::printf("\n");
    std::fflush(stdout);
  }

 private:
  std::string label_;
  std::int64_t first_, total_, tokens_per_step_;
  bool quiet_, tty_;
  double session_seconds_ = 0;  // training time since this process started the run
  std::chrono::steady_clock::time_point last_print_{};
};

}  // namespace est_train
