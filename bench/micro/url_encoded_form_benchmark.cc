// Micro-benchmarks of form and query parsing: ParseUrlEncoded alone, and
// the whole query -> request message step of the gateway
// (GET /user?id=N, the original API, and a list query).
//
//   bazel run //bench/micro:url_encoded_form_benchmark

#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "benchmark/benchmark.h"
#include "gateway/api_catalog.h"
#include "gateway/request_transcoder.h"
#include "gateway/url_encoded_form.h"

ABSL_FLAG(std::string, descriptor_set, "protos/descriptor_set.pb",
          "FileDescriptorSet of protos/ (bazel run finds the default).");

namespace stubmesh::gateway {
namespace {

void BM_ParseQuery(benchmark::State& state) {
  const std::string query = "id=12345";
  for (auto _ : state) {
    auto fields = ParseUrlEncoded(query);
    if (!fields.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(fields);
  }
}

void BM_ParseForm(benchmark::State& state) {
  const std::string form =
      "user.name=Ada+Lovelace&user.email=ada%40example.com&request_id="
      "3f2a9c1e-77d4-4b0e-9a51-0c6f1e2d8b47&note=caf%C3%A9+%26+cr%C3%AApes";
  for (auto _ : state) {
    auto fields = ParseUrlEncoded(form);
    if (!fields.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(fields);
  }
}

const ApiCatalog& Catalog() {
  static const std::shared_ptr<const ApiCatalog>* catalog = [] {
    auto files = ReadFileDescriptorSet(absl::GetFlag(FLAGS_descriptor_set));
    if (!files.ok()) {
      std::fprintf(stderr, "%s\n", files.status().ToString().c_str());
      std::exit(2);
    }
    auto built = ApiCatalog::Create(*files);
    if (!built.ok()) {
      std::fprintf(stderr, "%s\n", built.status().ToString().c_str());
      std::exit(2);
    }
    return new std::shared_ptr<const ApiCatalog>(*built);
  }();
  return **catalog;
}

void QueryToRequest(benchmark::State& state, const char* path,
                    const char* query) {
  std::optional<RouteMatch> match = Catalog().routes().Match("GET", path);
  if (!match) {
    state.SkipWithError("no route");
    return;
  }
  const HttpRoute& route = Catalog().route(match->route_index);
  for (auto _ : state) {
    std::unique_ptr<google::protobuf::Message> request(
        route.request_prototype->New());
    absl::Status s = TranscodeRequest(route, *match, query, BodyFormat::kNone,
                                      "", {}, request.get());
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
    benchmark::DoNotOptimize(request);
  }
}

void BM_UserQueryToRequest(benchmark::State& state) {
  QueryToRequest(state, "/user", "id=12345");
}
void BM_ListQueryToRequest(benchmark::State& state) {
  QueryToRequest(state, "/v1/users", "page_size=50&pageToken=abc%3D%3D");
}

BENCHMARK(BM_ParseQuery);
BENCHMARK(BM_ParseForm);
BENCHMARK(BM_UserQueryToRequest);
BENCHMARK(BM_ListQueryToRequest);

}  // namespace
}  // namespace stubmesh::gateway

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
