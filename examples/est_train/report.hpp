#pragma once
// est-train's summaries (one run, or the baseline and EST side by side) and its plot: validation
// loss against training FLOPs and against wall-clock, drawn by gnuplot into a PNG.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "progress.hpp"
#include "train_run.hpp"

namespace est_train {

inline std::string flops_text(double flops) {
  char buf[32];
  if (flops >= 1e15) std::snprintf(buf, sizeof buf, "%.2f PFLOP", flops / 1e15);
  else if (flops >= 1e12) std::snprintf(buf, sizeof buf, "%.2f TFLOP", flops / 1e12);
  else std::snprintf(buf, sizeof buf, "%.2f GFLOP", flops / 1e9);
  return buf;
}

inline void print_summary(const RunResult& r) {
  std::printf("\n[%s] %lld steps%s | train loss %.4f | val loss %.4f | %s of %s full-model FLOPs "
              "(%.1f%% saved) | %s of training%s\n",
              r.label.c_str(), static_cast<long long>(r.steps), r.stopped ? " (stopped early)" : "",
              r.train_loss, r.val_loss, flops_text(r.flops).c_str(),
              flops_text(r.full_flops).c_str(), 100.0 * (1.0 - r.flops / r.full_flops),
              duration_text(r.seconds).c_str(),
              r.skipped ? (" | " + std::to_string(r.skipped) + " non-finite steps skipped").c_str()
                        : "");
  if (!r.sample.empty()) std::printf("[%s] sample:\n%s\n", r.label.c_str(), r.sample.c_str());
}

inline void print_comparison(const RunResult& base, const RunResult& est) {
  std::printf("\n%-22s %14s %14s %14s\n", "", "baseline", "EST", "EST vs baseline");
  std::printf("%-22s %14.4f %14.4f %+14.4f\n", "final val loss", base.val_loss, est.val_loss,
              est.val_loss - base.val_loss);
  std::printf("%-22s %14.4f %14.4f %+14.4f\n", "final train loss", base.train_loss,
              est.train_loss, est.train_loss - base.train_loss);
  std::printf("%-22s %14s %14s %+13.1f%%\n", "training FLOPs", flops_text(base.flops).c_str(),
              flops_text(est.flops).c_str(), -100.0 * (1.0 - est.flops / base.flops));
  std::printf("%-22s %14s %14s %+13.1f%%\n", "wall-clock", duration_text(base.seconds).c_str(),
              duration_text(est.seconds).c_str(), -100.0 * (1.0 - est.seconds / base.seconds));
  const double time_saved = 100.0 * (1.0 - est.seconds / base.seconds);
  char time_text[96];
  if (time_saved >= 0) {
    std::snprintf(time_text, sizeof time_text, "%.1f%% of the training time", time_saved);
  } else {
    std::snprintf(time_text, sizeof time_text, "no training time (it took %.1f%% longer)",
                  -time_saved);
  }
  std::printf("\nEST saved %.1f%% of the training FLOPs and %s; its final validation loss is "
              "%.4f %s the baseline's.\n",
              100.0 * (1.0 - est.flops / base.flops), time_text,
              std::abs(est.val_loss - base.val_loss),
              est.val_loss <= base.val_loss ? "below" : "above");
}

/// Writes `png` (and `png` + ".dat", the data) with gnuplot; returns false with a message on
/// stderr when gnuplot is missing or fails.
inline bool plot(const std::string& png, const std::vector<RunResult>& runs) {
  // The path goes into a gnuplot script and a shell command between single quotes.
  if (png.find_first_of("'\n\r") != std::string::npos) {
    std::fprintf(stderr, "est-train: --plot: the path may not contain quotes or line breaks\n");
    return false;
  }
  const std::string data = png + ".dat", script = png + ".gp";
  auto written = [](std::ofstream& out, const std::string& file) {
    out.close();
    if (!out) std::fprintf(stderr, "est-train: --plot: cannot write %s\n", file.c_str());
    return static_cast<bool>(out);
  };
  {
    std::ofstream out(data);
    for (const auto& r : runs) {
      out << "# " << r.label << ": step flops seconds val_loss\n";
      for (const auto& p : r.curve) {
        out << p.step << ' ' << p.flops << ' ' << p.seconds << ' ' << p.loss << '\n';
      }
      out << "\n\n";
    }
    if (!written(out, data)) return false;
  }
  {
    std::ofstream out(script);
    out << "set terminal png size 1200,480\nset output '" << png << "'\n"
        << "set multiplot layout 1,2 title 'est-train: validation loss'\n"
        << "set grid\nset ylabel 'val loss (nats/token)'\n"
        << "set xlabel 'training FLOPs'\nset format x '%.1e'\nplot ";
    for (std::size_t i = 0; i < runs.size(); ++i) {
      out << (i ? ", " : "") << "'" << data << "' index " << i << " using 2:4 with linespoints title '"
          << runs[i].label << "'";
    }
    out << "\nset xlabel 'training wall-clock (s)'\nset format x '%g'\nplot ";
    for (std::size_t i = 0; i < runs.size(); ++i) {
      out << (i ? ", " : "") << "'" << data << "' index " << i << " using 3:4 with linespoints title '"
          << runs[i].label << "'";
    }
    out << "\nunset multiplot\n";
    if (!written(out, script)) return false;
  }
  const std::string command = "gnuplot '" + script + "'";
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
    std::fprintf(stderr, "est-train: --plot needs gnuplot (apt-get install gnuplot-nox); the data "
                         "is in %s and the script in %s\n", data.c_str(), script.c_str());
    return false;
  }
  std::error_code ec;
  std::filesystem::remove(png, ec);  // so that a stale image is not taken for a new one
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "est-train: gnuplot failed on %s\n", script.c_str());
    return false;
  }
  if (!std::filesystem::is_regular_file(png, ec) || std::filesystem::file_size(png, ec) == 0) {
    std::fprintf(stderr, "est-train: gnuplot wrote no image to %s (is the disk full?)\n",
                 png.c_str());
    return false;
  }
  std::printf("plot written to %s\n", png.c_str());
  return true;
}

}  // namespace est_train
