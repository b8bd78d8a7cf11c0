#include "gateway/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace stubmesh::gateway {
namespace {

constexpr size_t kShards = 16;

}  // namespace

absl::StatusOr<std::unique_ptr<RateLimiter>> RateLimiter::Create(
    const RateLimiterOptions& options) {
  if (!(options.rate_per_second > 0) ||
      !std::isfinite(options.rate_per_second)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate limit: rate_per_second must be > 0, got ",
                     options.rate_per_second));
  }
  if (!(options.burst >= 1) || !std::isfinite(options.burst)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate limit: burst must be >= 1, got ", options.burst));
  }
  if (options.max_clients < 1) {
    return absl::InvalidArgumentError("rate limit: max_clients must be >= 1");
  }
  return std::unique_ptr<RateLimiter>(new RateLimiter(options));
}

RateLimiter::RateLimiter(const RateLimiterOptions& options)
    : options_(options),
      // Two generations per shard hold at most max_clients buckets in all.
      generation_size_(std::max<size_t>(1, options.max_clients / kShards / 2)),
      shards_(kShards) {}

RateLimiter::Key RateLimiter::KeyOf(const boost::asio::ip::address& client) {
  Key key{};
  if (client.is_v4()) {
    // As an IPv4-mapped IPv6 address, so the two families never collide.
    auto bytes = client.to_v4().to_bytes();
    key[10] = key[11] = 0xff;
    std::copy(bytes.begin(), bytes.end(), key.begin() + 12);
    return key;
  }
  boost::asio::ip::address_v6 v6 = client.to_v6();
  if (v6.is_v4_mapped()) {
    return KeyOf(
        boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6));
  }
  auto bytes = v6.to_bytes();
  std::copy(bytes.begin(), bytes.begin() + 8, key.begin());  // the /64
  return key;
}

RateDecision RateLimiter::Admit(const boost::asio::ip::address& client,
                                absl::Time now) {
  const Key key = KeyOf(client);
  Shard& shard = shards_[absl::Hash<Key>()(key) % kShards];
  absl::MutexLock lock(&shard.mu);
  auto it = shard.current.find(key);
  if (it == shard.current.end()) {
    Bucket bucket{options_.burst, now};
    if (auto old = shard.previous.find(key); old != shard.previous.end()) {
      bucket = old->second;
      shard.previous.erase(old);
    }
    if (shard.current.size() >= generation_size_) {
      shard.previous = std::move(shard.current);
      shard.current.clear();
    }
    it = shard.current.emplace(key, bucket).first;
  }
  Bucket& bucket = it->second;
  if (now > bucket.updated) {
    bucket.tokens =
        std::min(options_.burst,
                 bucket.tokens + absl::ToDoubleSeconds(now - bucket.updated) *
                                     options_.rate_per_second);
    bucket.updated = now;
  }
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return RateDecision{};
  }
  return RateDecision{
      false, absl::Seconds((1 - bucket.tokens) / options_.rate_per_second)};
}

size_t RateLimiter::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    n += shard.current.size() + shard.previous.size();
  }
  return n;
}

}  // namespace stubmesh::gateway
