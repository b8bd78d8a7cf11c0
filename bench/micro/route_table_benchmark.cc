// Micro-benchmarks of RouteTable::Match with 10 and 1,000 routes: the
// matching cost should not grow with the number of routes (a trie walk per
// path segment), so the two figures should be about the same.
//
//   bazel run //bench/micro:route_table_benchmark

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "gateway/route_table.h"

namespace stubmesh::gateway {
namespace {

// N routes in the shapes an API has: per resource, a collection, an item,
// a nested collection, a custom verb, spread over GET and POST.
std::shared_ptr<const RouteTable> Table(int n) {
  RouteTableBuilder builder;
  for (int i = 0; i < n; ++i) {
    std::string resource = absl::StrCat("resource", i / 5);
    std::string path;
    const char* method = "GET";
    switch (i % 5) {
      case 0:
        path = absl::StrCat("/v1/", resource);
        break;
      case 1:
        path = absl::StrCat("/v1/", resource, "/{id}");
        break;
      case 2:
        path = absl::StrCat("/v1/", resource, "/{parent}/children/{id}");
        break;
      case 3:
        path = absl::StrCat("/v1/", resource, "/{id}:archive");
        method = "POST";
        break;
      case 4:
        path = absl::StrCat("/v1/", resource);
        method = "POST";
        break;
    }
    absl::Status s = builder.Add(method, path, i, absl::StrCat("route ", i));
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      std::exit(2);
    }
  }
  return builder.Build();
}

// Matches an item path of the last resource (the deepest insertion).
void BM_MatchItem(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::shared_ptr<const RouteTable> table = Table(n);
  const std::string path = absl::StrCat("/v1/resource", (n - 1) / 5, "/12345");
  for (auto _ : state) {
    std::optional<RouteMatch> match = table->Match("GET", path);
    if (!match) state.SkipWithError("no match");
    benchmark::DoNotOptimize(match);
  }
}

void BM_MatchNested(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::shared_ptr<const RouteTable> table = Table(n);
  const std::string path =
      absl::StrCat("/v1/resource", (n - 1) / 5, "/p-1/children/c%2F2");
  for (auto _ : state) {
    std::optional<RouteMatch> match = table->Match("GET", path);
    if (!match) state.SkipWithError("no match");
    benchmark::DoNotOptimize(match);
  }
}

void BM_MatchVerb(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::shared_ptr<const RouteTable> table = Table(n);
  const std::string path =
      absl::StrCat("/v1/resource", (n - 1) / 5, "/9:archive");
  for (auto _ : state) {
    std::optional<RouteMatch> match = table->Match("POST", path);
    if (!match) state.SkipWithError("no match");
    benchmark::DoNotOptimize(match);
  }
}

void BM_NoMatch(benchmark::State& state) {
  std::shared_ptr<const RouteTable> table =
      Table(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    std::optional<RouteMatch> match =
        table->Match("GET", "/v2/nothing/here/at/all");
    benchmark::DoNotOptimize(match);
  }
}

BENCHMARK(BM_MatchItem)->Arg(10)->Arg(1000);
BENCHMARK(BM_MatchNested)->Arg(10)->Arg(1000);
BENCHMARK(BM_MatchVerb)->Arg(10)->Arg(1000);
BENCHMARK(BM_NoMatch)->Arg(10)->Arg(1000);

}  // namespace
}  // namespace stubmesh::gateway

BENCHMARK_MAIN();
