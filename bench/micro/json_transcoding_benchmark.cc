// Micro-benchmarks of the gateway's JSON <-> protobuf work for User and
// Order, through the same functions and catalog the gateway uses:
// POST bodies (JSON -> the binary request) and responses (binary -> JSON),
// each with the catalog's cached types and with protobuf's per-call
// resolver (what the gateway did before), for comparison.
//
//   bazel run //bench/micro:json_transcoding_benchmark
//   json_transcoding_benchmark --descriptor_set=PATH [--benchmark_...]

#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "benchmark/benchmark.h"
#include "gateway/api_catalog.h"
#include "gateway/request_transcoder.h"
#include "google/protobuf/util/json_util.h"

ABSL_FLAG(std::string, descriptor_set, "protos/descriptor_set.pb",
          "FileDescriptorSet of protos/ (bazel run finds the default).");

namespace stubmesh::gateway {
namespace {

using ::google::protobuf::Message;

const ApiCatalog& Catalog() {
  static const std::shared_ptr<const ApiCatalog>* catalog = [] {
    absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>> files =
        ReadFileDescriptorSet(absl::GetFlag(FLAGS_descriptor_set));
    if (!files.ok()) {
      std::fprintf(stderr, "%s\n", files.status().ToString().c_str());
      std::exit(2);
    }
    absl::StatusOr<std::shared_ptr<const ApiCatalog>> built =
        ApiCatalog::Create(*files);
    if (!built.ok()) {
      std::fprintf(stderr, "%s\n", built.status().ToString().c_str());
      std::exit(2);
    }
    return new std::shared_ptr<const ApiCatalog>(*built);
  }();
  return **catalog;
}

// The route for METHOD PATH, as the gateway matches it; `cached` false
// gives a copy without the catalog's type cache.
struct Routed {
  HttpRoute route;
  RouteMatch match;
};
Routed Route(const char* method, const char* path, bool cached) {
  std::optional<RouteMatch> match = Catalog().routes().Match(method, path);
  if (!match) {
    std::fprintf(stderr, "no route for %s %s\n", method, path);
    std::exit(2);
  }
  Routed routed{Catalog().route(match->route_index), *match};
  if (!cached) routed.route.json_types = nullptr;
  return routed;
}

constexpr char kUserJson[] =
    R"({"name":"Ada Lovelace","email":"ada@example.com"})";
constexpr char kOrderJson[] =
    R"({"userId":"42","items":[{"sku":"BOOK-1","quantity":2,"unitPriceCents":1250},)"
    R"({"sku":"PEN-7","quantity":10,"unitPriceCents":99}]})";

void JsonToBinary(benchmark::State& state, const char* path, const char* json) {
  Routed r = Route("POST", path, state.range(0) != 0);
  for (auto _ : state) {
    std::unique_ptr<Message> request(r.route.request_prototype->New());
    absl::Status s = TranscodeRequest(r.route, r.match, "", BodyFormat::kJson,
                                      json, {}, request.get());
    std::string binary = request->SerializeAsString();
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
    benchmark::DoNotOptimize(binary);
  }
  state.SetLabel(state.range(0) ? "cached types" : "per-call resolver");
}

// The response's wire bytes -> JSON, as the gateway does on a 200: parse
// (the check), then print (with cached types: from the bytes).
void BinaryToJson(benchmark::State& state, const char* method, const char* path,
                  const char* response_json) {
  Routed r = Route(method, path, state.range(0) != 0);
  std::unique_ptr<Message> response(r.route.response_prototype->New());
  if (!google::protobuf::util::JsonStringToMessage(response_json,
                                                   response.get())
           .ok()) {
    state.SkipWithError("bad response JSON");
    return;
  }
  const std::string wire = response->SerializeAsString();
  google::protobuf::util::JsonPrintOptions options;
  for (auto _ : state) {
    absl::StatusOr<std::string> json =
        TranscodeResponse(r.route, wire, options);
    if (!json.ok()) state.SkipWithError("transcoding failed");
    benchmark::DoNotOptimize(json);
  }
  state.SetLabel(state.range(0) ? "cached types" : "per-call resolver");
}

void BM_UserJsonToBinary(benchmark::State& state) {
  JsonToBinary(state, "/v1/users", kUserJson);
}
void BM_OrderJsonToBinary(benchmark::State& state) {
  JsonToBinary(state, "/v1/orders", kOrderJson);
}
void BM_UserBinaryToJson(benchmark::State& state) {
  BinaryToJson(state, "GET", "/v1/users/1",
               R"({"id":"1","name":"Ada Lovelace","email":"ada@example.com",)"
               R"("createTime":"2026-11-27T16:00:00.123Z"})");
}
void BM_OrderBinaryToJson(benchmark::State& state) {
  BinaryToJson(
      state, "GET", "/v1/orders/7",
      R"({"id":"7","userId":"42","total":3490,"status":"ORDER_STATUS_OPEN",)"
      R"("items":[{"sku":"BOOK-1","quantity":2,"unitPriceCents":1250},)"
      R"({"sku":"PEN-7","quantity":10,"unitPriceCents":99}],)"
      R"("createTime":"2026-11-27T16:00:00Z"})");
}

// Arg 1: the catalog's cached types (what the gateway uses); 0: protobuf's
// per-call resolver.
BENCHMARK(BM_UserJsonToBinary)->Arg(1)->Arg(0);
BENCHMARK(BM_OrderJsonToBinary)->Arg(1)->Arg(0);
BENCHMARK(BM_UserBinaryToJson)->Arg(1)->Arg(0);
BENCHMARK(BM_OrderBinaryToJson)->Arg(1)->Arg(0);

}  // namespace
}  // namespace stubmesh::gateway

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
