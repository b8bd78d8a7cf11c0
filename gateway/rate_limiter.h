#ifndef STUBMESH_GATEWAY_RATE_LIMITER_H_
#define STUBMESH_GATEWAY_RATE_LIMITER_H_

// Per-client token buckets: each client may send `burst` requests at once
// and `rate_per_second` on average.
//
// Clients are keyed by IP address; an IPv6 client by its /64 (one host
// usually owns the whole /64, so it cannot dodge its bucket by changing
// addresses in it). Memory is bounded: the table is split into shards, each
// holding two generations of buckets; when the current one is full the
// older is dropped, so a client unseen for a whole generation starts again
// with a full bucket (which is also where its bucket would have refilled
// to, unless the rate is tiny against the traffic).
//
// Time is passed in, so the limiter is deterministic to test.
//
// Thread-safety: thread-safe; shards have their own mutex.
//
// Example:
//   auto limiter = RateLimiter::Create({.rate_per_second = 10, .burst = 20});
//   RateDecision d = (*limiter)->Admit(client_address, absl::Now());
//   if (!d.allowed) { /* 429, Retry-After: d.retry_after (ceil seconds) */ }

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/ip/address.hpp"

namespace stubmesh::gateway {

struct RateLimiterOptions {
  double rate_per_second = 0;   // > 0
  double burst = 1;             // >= 1
  size_t max_clients = 100000;  // >= 1; upper bound on buckets kept
};

struct RateDecision {
  bool allowed = true;
  // When refused: how long until one request would be admitted.
  absl::Duration retry_after = absl::ZeroDuration();
};

class RateLimiter {
 public:
  // INVALID_ARGUMENT naming the option when one is out of range.
  static absl::StatusOr<std::unique_ptr<RateLimiter>> Create(
      const RateLimiterOptions& options);

  // Takes one token from `client`'s bucket when it has one.
  RateDecision Admit(const boost::asio::ip::address& client, absl::Time now);

  // Buckets currently held (for tests and metrics).
  size_t size() const;

 private:
  using Key = std::array<uint8_t, 16>;
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<Key, Bucket> current ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<Key, Bucket> previous ABSL_GUARDED_BY(mu);
  };
  explicit RateLimiter(const RateLimiterOptions& options);
  static Key KeyOf(const boost::asio::ip::address& client);

  const RateLimiterOptions options_;
  const size_t generation_size_;  // per shard
  std::vector<Shard> shards_;
};

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_RATE_LIMITER_H_
