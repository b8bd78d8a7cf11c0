#include "gateway/request_accounting.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mesh/trace_context.h"

namespace stubmesh::gateway {
namespace {

boost::beast::string_view Beast(absl::string_view s) {
  return {s.data(), s.size()};
}

bool IsUsableRequestId(absl::string_view id) {
  return !id.empty() && id.size() <= 128 &&
         std::all_of(id.begin(), id.end(),
                     [](char c) { return c >= 0x20 && c <= 0x7e; });
}

}  // namespace

RequestAccounting::RequestAccounting(prometheus::Registry* registry) {
  requests_total_ = &prometheus::BuildCounter()
                         .Name("http_requests_total")
                         .Help(
                             "HTTP requests by route template, method and "
                             "status code.")
                         .Register(*registry);
  request_seconds_ = &prometheus::BuildHistogram()
                          .Name("http_request_duration_seconds")
                          .Help("Time from request read to response ready.")
                          .Register(*registry);
}

std::string RequestAccounting::RequestIdOf(const HttpRequest& head) {
  // Two X-Request-Id headers are not one id: the answer gets a new one.
  auto [first, last] = head.equal_range(kRequestIdHeader);
  if (first != last && std::next(first) == last) {
    absl::string_view id(first->value().data(), first->value().size());
    if (IsUsableRequestId(id)) return std::string(id);
  }
  return mesh::NewRequestId();
}

std::string RequestAccounting::AssignRequestId(HttpRequest* request) {
  std::string id = RequestIdOf(*request);
  request->set(kRequestIdHeader, Beast(id));
  return id;
}

std::string RequestAccounting::MethodLabel(absl::string_view method) {
  static constexpr absl::string_view kStandard[] = {
      "GET",     "HEAD",    "POST",  "PUT",  "DELETE",
      "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  for (absl::string_view standard : kStandard) {
    if (method == standard) return std::string(method);
  }
  return "other";
}

void RequestAccounting::Answered(const std::string& route,
                                 const std::string& method, absl::Time start,
                                 absl::string_view request_id,
                                 HttpResponse* response) {
  response->set(kRequestIdHeader, Beast(request_id));
  Count(route, method, response->result_int());
  ObserveLatency(route, method, start);
}

// No label value holds a NUL, so keys joined with one cannot collide.
constexpr absl::string_view kKeySeparator("\0", 1);

void RequestAccounting::Count(const std::string& route,
                              const std::string& method, int code) {
  const std::string code_label = std::to_string(code);
  const std::string key =
      absl::StrCat(route, kKeySeparator, method, kKeySeparator, code_label);
  prometheus::Counter* counter = nullptr;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = counters_.find(key);
    if (it != counters_.end()) counter = it->second;
  }
  if (counter == nullptr) {
    counter = &requests_total_->Add(
        {{"route", route}, {"method", method}, {"code", code_label}});
    absl::MutexLock lock(&mu_);
    counters_.try_emplace(key, counter);
  }
  counter->Increment();
}

void RequestAccounting::ObserveLatency(const std::string& route,
                                       const std::string& method,
                                       absl::Time start) {
  const std::string key = absl::StrCat(route, kKeySeparator, method);
  prometheus::Histogram* histogram = nullptr;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = histograms_.find(key);
    if (it != histograms_.end()) histogram = it->second;
  }
  if (histogram == nullptr) {
    histogram =
        &request_seconds_->Add({{"route", route}, {"method", method}},
                               prometheus::Histogram::BucketBoundaries{
                                   0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                   0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    absl::MutexLock lock(&mu_);
    histograms_.try_emplace(key, histogram);
  }
  histogram->Observe(absl::ToDoubleSeconds(absl::Now() - start));
}

}  // namespace stubmesh::gateway
