#include "bench/latency_histogram.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace stubmesh::bench {
namespace {

TEST(HistogramTest, EmptyIsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.Quantile(0.5), 0);
  EXPECT_EQ(h.max(), 0);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (int v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 100);
  EXPECT_EQ(h.Quantile(0.50), 50);
  EXPECT_EQ(h.Quantile(0.90), 90);
  EXPECT_EQ(h.Quantile(0.99), 99);
  EXPECT_EQ(h.Quantile(1.0), 100);
  EXPECT_EQ(h.max(), 100);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(HistogramTest, BucketsCoverEveryValueOnce) {
  // Lower/Upper of consecutive buckets tile the line with no gap or overlap.
  for (int i = 1; i < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::Lower(i), Histogram::Upper(i - 1) + 1) << i;
  }
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 129ull, 1000ull, 123456789ull,
                     (1ull << 40) + 12345, ~0ull}) {
    int i = Histogram::Index(v);
    ASSERT_GE(i, 0);
    ASSERT_LT(i, Histogram::kBuckets);
    EXPECT_LE(Histogram::Lower(i), v);
    EXPECT_GE(Histogram::Upper(i), v);
  }
}

TEST(HistogramTest, LargeValuesWithinOnePercent) {
  Histogram h;
  for (int64_t v : {1'234'567, 2'000'000, 3'500'000, 9'999'999}) {
    Histogram one;
    one.Record(v);
    h.Record(v);
    // One value: every quantile is that value's bucket, capped at the max.
    EXPECT_NEAR(one.Quantile(0.5), v, v * 0.01) << v;
  }
  EXPECT_NEAR(h.Quantile(0.5), 2'000'000, 2'000'000 * 0.01);
  EXPECT_EQ(h.max(), 9'999'999);
}

TEST(HistogramTest, MergeAddsCounts) {
  Histogram a, b;
  for (int i = 0; i < 90; ++i) a.Record(1000);
  for (int i = 0; i < 10; ++i) b.Record(50'000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 100);
  EXPECT_NEAR(a.Quantile(0.90), 1000, 10);
  EXPECT_NEAR(a.Quantile(0.95), 50'000, 500);
  EXPECT_EQ(a.max(), 50'000);
}

}  // namespace
}  // namespace stubmesh::bench
