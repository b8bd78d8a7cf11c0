// gateway: REST/JSON in front of gRPC services, driven by their descriptors
// and google.api.http annotations.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gateway/api_catalog.h"
#include "gateway/http_server.h"
#include "gateway/repeated_flag_args.h"
#include "gateway/rest_gateway.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int32_t, port, 8080, "HTTP port; 0 picks a free one.");
ABSL_FLAG(std::vector<std::string>, descriptor_set, {},
          "FileDescriptorSet file(s) of the services to serve (protoc "
          "--descriptor_set_out --include_imports). Repeatable or "
          "comma-separated.");
ABSL_FLAG(std::vector<std::string>, backend, {},
          "SERVICE=TARGET: where calls to a full service name go, e.g. "
          "stubmesh.user.v1.UserService=127.0.0.1:50051; *=TARGET is the "
          "fallback. Repeatable or comma-separated.");
ABSL_FLAG(int32_t, io_threads, 0, "HTTP I/O threads; 0: one per core.");
ABSL_FLAG(int64_t, max_body_bytes, 1 << 20, "Largest request body (413).");
ABSL_FLAG(int64_t, max_header_bytes, 16 << 10, "Largest request head (431).");
ABSL_FLAG(absl::Duration, read_timeout, absl::Seconds(30),
          "Time to receive a request, and to keep an idle connection.");
ABSL_FLAG(absl::Duration, default_timeout, absl::Seconds(10),
          "Deadline of a backend call when the request has no Grpc-Timeout.");
ABSL_FLAG(bool, json_use_proto_names, false,
          "Write response fields by proto name (user_id) instead of JSON name "
          "(userId).");
ABSL_FLAG(bool, json_emit_unpopulated, false,
          "Write fields that hold their default value.");
ABSL_FLAG(bool, json_enums_as_ints, false, "Write enums as numbers.");
ABSL_FLAG(bool, allow_unknown_fields, false,
          "Ignore unknown JSON fields and query parameters instead of "
          "answering 400.");

namespace {

namespace gw = stubmesh::gateway;

int Fail(const std::string& message) {
  absl::FPrintF(stderr, "gateway: %s\n", message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "REST/JSON gateway to gRPC services. Example:\n"
      "  gateway --port=8080 --descriptor_set=protos.pb \\\n"
      "    --backend=stubmesh.user.v1.UserService=127.0.0.1:50051 \\\n"
      "    --backend=*=127.0.0.1:50052");
  std::vector<std::string> args =
      gw::JoinRepeatedFlags(argc, argv, {"backend", "descriptor_set"});
  std::vector<char*> joined = gw::ArgvOf(args);
  absl::ParseCommandLine(static_cast<int>(joined.size()), joined.data());

  std::vector<google::protobuf::FileDescriptorProto> files;
  for (const std::string& path : absl::GetFlag(FLAGS_descriptor_set)) {
    absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>> set =
        gw::ReadFileDescriptorSet(path);
    if (!set.ok()) return Fail(set.status().ToString());
    files.insert(files.end(), set->begin(), set->end());
  }
  if (files.empty()) return Fail("give at least one --descriptor_set");
  absl::StatusOr<std::shared_ptr<const gw::ApiCatalog>> catalog =
      gw::ApiCatalog::Create(files);
  if (!catalog.ok()) return Fail(catalog.status().ToString());

  gw::BackendChannels backends;
  for (const std::string& spec : absl::GetFlag(FLAGS_backend)) {
    std::vector<std::string> parts = absl::StrSplit(spec, absl::MaxSplits('=', 1));
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return Fail(absl::StrFormat(
          "--backend=%s: expected SERVICE=TARGET or *=TARGET", spec));
    }
    backends[parts[0]] =
        grpc::CreateChannel(parts[1], grpc::InsecureChannelCredentials());
  }

  gw::RestGatewayOptions options;
  options.default_timeout = absl::GetFlag(FLAGS_default_timeout);
  options.transcode.ignore_unknown_fields =
      absl::GetFlag(FLAGS_allow_unknown_fields);
  options.json.preserve_proto_field_names =
      absl::GetFlag(FLAGS_json_use_proto_names);
  options.json.always_print_primitive_fields =
      absl::GetFlag(FLAGS_json_emit_unpopulated);
  options.json.always_print_enums_as_ints =
      absl::GetFlag(FLAGS_json_enums_as_ints);
  gw::RestGateway gateway(options, std::move(backends));
  absl::Status s = gateway.SetCatalog(*catalog);
  if (!s.ok()) return Fail(s.ToString());

  // Signals are taken by sigwait in main; no other thread may see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  gw::HttpServerOptions http;
  http.host = absl::GetFlag(FLAGS_host);
  http.port = absl::GetFlag(FLAGS_port);
  http.io_threads = absl::GetFlag(FLAGS_io_threads);
  http.max_body_bytes = absl::GetFlag(FLAGS_max_body_bytes);
  http.max_header_bytes = absl::GetFlag(FLAGS_max_header_bytes);
  http.read_timeout = absl::GetFlag(FLAGS_read_timeout);
  absl::StatusOr<std::unique_ptr<gw::HttpServer>> server = gw::HttpServer::Create(
      http,
      [&gateway](gw::HttpRequest request, gw::HttpResponder respond) {
        gateway.Handle(std::move(request), std::move(respond));
      },
      gw::RestGateway::ErrorResponse);
  if (!server.ok()) return Fail(server.status().ToString());
  (*server)->Start();
  std::string host = http.host.find(':') != std::string::npos
                         ? "[" + http.host + "]"
                         : http.host;
  std::printf("gateway listening on %s:%d\n", host.c_str(), (*server)->port());
  std::fflush(stdout);

  int signo = 0;
  sigwait(&signals, &signo);
  absl::FPrintF(stderr, "gateway: got signal %d, stopping\n", signo);
  (*server)->Stop();
  return 0;
}
