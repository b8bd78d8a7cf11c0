#ifndef STUBMESH_BENCH_LATENCY_HISTOGRAM_H_
#define STUBMESH_BENCH_LATENCY_HISTOGRAM_H_

// A log-bucketed latency histogram, HDR-style, with no external library:
// values below 128 are counted exactly; above, each power of two is cut into
// 64 sub-buckets, so a quantile is within 1/128 (0.8%) of a recorded value.
// Any uint64 fits; 3,776 buckets of 8 bytes.
//
// Thread-safety: none; keep one per thread (or per closed loop) and Merge().
//
// Example:
//   Histogram h;
//   h.Record(1500);                 // nanoseconds, or any unit
//   double p99 = h.Quantile(0.99);

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace stubmesh::bench {

class Histogram {
 public:
  static constexpr int kSubBits = 6;                // 64 sub-buckets
  static constexpr int kSub = 1 << kSubBits;
  // Index() of the largest uint64 is (64 - kSubBits) * kSub + kSub - 1.
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;

  Histogram() : counts_(kBuckets, 0) {}

  void Record(int64_t value) {
    if (value < 0) value = 0;
    ++counts_[Index(static_cast<uint64_t>(value))];
    ++count_;
    sum_ += static_cast<double>(value);
    max_ = std::max(max_, value);
  }

  void Merge(const Histogram& other) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    max_ = std::max(max_, other.max_);
  }

  int64_t count() const { return count_; }
  int64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / count_ : 0; }

  // The value at quantile q (0..1): the middle of its bucket, never above
  // the largest value seen.
  double Quantile(double q) const {
    if (count_ == 0) return 0;
    int64_t rank = static_cast<int64_t>(std::ceil(q * count_));
    rank = std::clamp<int64_t>(rank, 1, count_);
    int64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        double mid = (static_cast<double>(Lower(i)) + Upper(i)) / 2;
        return std::min(mid, static_cast<double>(max_));
      }
    }
    return static_cast<double>(max_);
  }

  static int Index(uint64_t v) {
    if (v < 2 * kSub) return static_cast<int>(v);
    int width = 64 - __builtin_clzll(v);        // bits in v, > kSubBits + 1
    int shift = width - kSubBits - 1;           // >= 1
    uint64_t sub = v >> shift;                  // in [kSub, 2 * kSub)
    return (shift + 1) * kSub + static_cast<int>(sub - kSub);
  }
  static uint64_t Lower(int index) {
    if (index < 2 * kSub) return index;
    int shift = index / kSub - 1;
    uint64_t sub = kSub + index % kSub;
    return sub << shift;
  }
  static uint64_t Upper(int index) {
    if (index < 2 * kSub) return index;
    int shift = index / kSub - 1;
    uint64_t sub = kSub + index % kSub;
    return ((sub + 1) << shift) - 1;
  }

 private:
  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  double sum_ = 0;
  int64_t max_ = 0;
};

}  // namespace stubmesh::bench

#endif  // STUBMESH_BENCH_LATENCY_HISTOGRAM_H_
