#include "gateway/rate_limiter.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

using boost::asio::ip::make_address;

const absl::Time kStart = absl::FromUnixSeconds(1'000'000);

std::unique_ptr<RateLimiter> Limiter(double rate, double burst,
                                     size_t max_clients = 1000) {
  auto limiter = RateLimiter::Create({rate, burst, max_clients});
  EXPECT_TRUE(limiter.ok()) << limiter.status();
  return *std::move(limiter);
}

TEST(RateLimiterTest, BurstThenRefusedWithRetryAfter) {
  auto limiter = Limiter(/*rate=*/2, /*burst=*/3);
  auto client = make_address("127.0.0.5");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter->Admit(client, kStart).allowed) << i;
  }
  RateDecision refused = limiter->Admit(client, kStart);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, absl::Milliseconds(500));
  // Half a second later one token is back, and only one.
  EXPECT_TRUE(limiter->Admit(client, kStart + absl::Milliseconds(500)).allowed);
  EXPECT_FALSE(
      limiter->Admit(client, kStart + absl::Milliseconds(500)).allowed);
}

TEST(RateLimiterTest, RefillStopsAtTheBurst) {
  auto limiter = Limiter(10, 2);
  auto client = make_address("10.0.0.1");
  EXPECT_TRUE(limiter->Admit(client, kStart).allowed);
  absl::Time later = kStart + absl::Hours(1);
  EXPECT_TRUE(limiter->Admit(client, later).allowed);
  EXPECT_TRUE(limiter->Admit(client, later).allowed);
  EXPECT_FALSE(limiter->Admit(client, later).allowed);
}

TEST(RateLimiterTest, ClientsHaveTheirOwnBuckets) {
  auto limiter = Limiter(1, 1);
  EXPECT_TRUE(limiter->Admit(make_address("127.0.0.1"), kStart).allowed);
  EXPECT_FALSE(limiter->Admit(make_address("127.0.0.1"), kStart).allowed);
  EXPECT_TRUE(limiter->Admit(make_address("127.0.0.2"), kStart).allowed);
  EXPECT_TRUE(limiter->Admit(make_address("::1"), kStart).allowed);
}

TEST(RateLimiterTest, Ipv6IsKeyedByItsSlash64AndMappedV4ByTheV4Address) {
  auto limiter = Limiter(1, 1);
  EXPECT_TRUE(limiter->Admit(make_address("2001:db8:1:2::1"), kStart).allowed);
  EXPECT_FALSE(
      limiter->Admit(make_address("2001:db8:1:2:ffff::9"), kStart).allowed);
  EXPECT_TRUE(limiter->Admit(make_address("2001:db8:1:3::1"), kStart).allowed);
  EXPECT_TRUE(limiter->Admit(make_address("192.0.2.7"), kStart).allowed);
  EXPECT_FALSE(
      limiter->Admit(make_address("::ffff:192.0.2.7"), kStart).allowed);
}

TEST(RateLimiterTest, MemoryStaysBoundedWithManyClients) {
  const size_t max_clients = 320;
  auto limiter = Limiter(1, 1, max_clients);
  for (int i = 0; i < 100000; ++i) {
    boost::asio::ip::address_v4 address(0x0a000000u + i);
    limiter->Admit(address, kStart);
    ASSERT_LE(limiter->size(), max_clients) << i;
  }
  EXPECT_GT(limiter->size(), max_clients / 4);
  // A client seen just now is still limited.
  boost::asio::ip::address_v4 last(0x0a000000u + 99999);
  EXPECT_FALSE(limiter->Admit(last, kStart).allowed);
}

TEST(RateLimiterTest, CreateNamesTheBadOption) {
  EXPECT_NE(RateLimiter::Create({0, 1, 10})
                .status()
                .message()
                .find("rate_per_second"),
            absl::string_view::npos);
  EXPECT_NE(RateLimiter::Create({1, 0.5, 10}).status().message().find("burst"),
            absl::string_view::npos);
  EXPECT_NE(
      RateLimiter::Create({1, 1, 0}).status().message().find("max_clients"),
      absl::string_view::npos);
}

}  // namespace
}  // namespace stubmesh::gateway
