// Fuzzes the gateway's HTTP -> protobuf transcoding (gateway/
// request_transcoder.h) over the real catalog of protos/ and the
// transcoding test protos (fuzz_catalog.h): path variables, the query
// string and a JSON or form body into the request message.
//
// Input: "<METHOD>\n<path>[?<query>]\n<json|form|none>\n<body>". Beyond "no
// crash": every refusal is INVALID_ARGUMENT (the contract), and an accepted
// request serializes and parses back as its type; the response side
// (TranscodeResponse) takes the same bytes read as the response type.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_catalog.h"
#include "gateway/api_catalog.h"
#include "gateway/request_transcoder.h"
#include "google/protobuf/util/json_util.h"

namespace {

using ::stubmesh::gateway::ApiCatalog;
using ::stubmesh::gateway::BodyFormat;
using ::stubmesh::gateway::HttpRoute;
using ::stubmesh::gateway::RouteMatch;

std::shared_ptr<const ApiCatalog>* catalog = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  catalog = new std::shared_ptr<const ApiCatalog>(
      stubmesh::fuzz::LoadFuzzCatalog((*argv)[0]));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<absl::string_view> parts =
      absl::StrSplit(input, absl::MaxSplits('\n', 3));
  if (parts.size() < 2) return 0;
  absl::string_view method = parts[0];
  absl::string_view target = parts[1];
  absl::string_view kind = parts.size() > 2 ? parts[2] : "none";
  absl::string_view body = parts.size() > 3 ? parts[3] : "";
  size_t question = target.find('?');
  absl::string_view path = target.substr(0, question);
  absl::string_view query = question == absl::string_view::npos
                                ? absl::string_view()
                                : target.substr(question + 1);
  BodyFormat format = kind == "json"   ? BodyFormat::kJson
                      : kind == "form" ? BodyFormat::kForm
                                       : BodyFormat::kNone;

  std::optional<RouteMatch> match = (*catalog)->routes().Match(method, path);
  if (!match) return 0;
  const HttpRoute& route = (*catalog)->route(match->route_index);
  for (bool ignore_unknown : {false, true}) {
    std::unique_ptr<google::protobuf::Message> request(
        route.request_prototype->New());
    stubmesh::gateway::TranscodeOptions options;
    options.ignore_unknown_fields = ignore_unknown;
    absl::Status s = TranscodeRequest(route, *match, query, format, body,
                                      options, request.get());
    if (!s.ok()) {
      if (s.code() != absl::StatusCode::kInvalidArgument) {
        std::fprintf(stderr, "not INVALID_ARGUMENT: %s\n",
                     s.ToString().c_str());
        abort();
      }
      continue;
    }
    std::string bytes;
    if (!request->SerializeToString(&bytes)) abort();
    std::unique_ptr<google::protobuf::Message> again(
        route.request_prototype->New());
    if (!again->ParseFromString(bytes)) abort();
    std::unique_ptr<google::protobuf::Message> response(
        route.response_prototype->New());
    if (response->ParseFromString(bytes)) {
      google::protobuf::util::JsonPrintOptions print;
      (void)TranscodeResponse(route, *response, print).ok();
    }
  }
  // The body's bytes as a backend's answer: JSON or INTERNAL, never a crash.
  absl::StatusOr<std::string> answer = TranscodeResponse(route, body, {});
  if (!answer.ok() && answer.status().code() != absl::StatusCode::kInternal) {
    std::fprintf(stderr, "not INTERNAL: %s\n",
                 answer.status().ToString().c_str());
    abort();
  }
  return 0;
}
