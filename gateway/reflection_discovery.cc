#include "gateway/reflection_discovery.h"

#include <deque>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "status/status_mapping.h"

namespace stubmesh::gateway {
namespace {

using ::grpc::reflection::v1alpha::ServerReflection;
using ::grpc::reflection::v1alpha::ServerReflectionRequest;
using ::grpc::reflection::v1alpha::ServerReflectionResponse;

using Stream =
    grpc::ClientReaderWriter<ServerReflectionRequest, ServerReflectionResponse>;

absl::StatusOr<ServerReflectionResponse> Ask(
    Stream& stream, const ServerReflectionRequest& request) {
  ServerReflectionResponse response;
  if (!stream.Write(request) || !stream.Read(&response)) {
    return absl::UnavailableError("the reflection stream closed");
  }
  if (response.has_error_response()) {
    return ToAbslStatus(grpc::Status(
        static_cast<grpc::StatusCode>(response.error_response().error_code()),
        response.error_response().error_message()));
  }
  return response;
}

// Adds the files of a response, and queues their imports not yet seen.
absl::Status TakeFiles(
    const ServerReflectionResponse& response,
    absl::flat_hash_set<std::string>& seen, std::deque<std::string>& wanted,
    std::vector<google::protobuf::FileDescriptorProto>& files) {
  for (const std::string& bytes :
       response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    if (!file.ParseFromString(bytes)) {
      return absl::DataLossError("reflection sent a file that does not parse");
    }
    if (!seen.insert(file.name()).second) continue;
    for (const std::string& dependency : file.dependency()) {
      if (!seen.contains(dependency)) wanted.push_back(dependency);
    }
    files.push_back(std::move(file));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DiscoveredApi> DiscoverViaReflection(
    std::shared_ptr<grpc::Channel> channel, absl::Duration timeout) {
  std::unique_ptr<ServerReflection::Stub> stub =
      ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  std::unique_ptr<Stream> stream = stub->ServerReflectionInfo(&context);

  auto fail = [&](absl::Status s) -> absl::Status {
    stream->WritesDone();
    grpc::Status finish = stream->Finish();
    // The stream's own status says more (UNAVAILABLE, UNIMPLEMENTED, ...).
    if (finish.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      return absl::UnimplementedError(
          absl::StrCat("the server has no reflection service (",
                       ServerReflection::service_full_name(),
                       "): ", finish.error_message()));
    }
    if (!finish.ok()) return ToAbslStatus(finish);
    return s;
  };

  ServerReflectionRequest list;
  list.set_list_services("");
  absl::StatusOr<ServerReflectionResponse> listed = Ask(*stream, list);
  if (!listed.ok()) return fail(listed.status());

  DiscoveredApi api;
  absl::flat_hash_set<std::string> seen;
  std::deque<std::string> wanted;
  for (const auto& service : listed->list_services_response().service()) {
    if (absl::StartsWith(service.name(), "grpc.reflection.") ||
        absl::StartsWith(service.name(), "grpc.health.")) {
      continue;
    }
    api.services.push_back(service.name());
    ServerReflectionRequest request;
    request.set_file_containing_symbol(service.name());
    absl::StatusOr<ServerReflectionResponse> response = Ask(*stream, request);
    if (!response.ok()) return fail(response.status());
    absl::Status s = TakeFiles(*response, seen, wanted, api.files);
    if (!s.ok()) return fail(s);
  }
  while (!wanted.empty()) {
    std::string name = std::move(wanted.front());
    wanted.pop_front();
    if (seen.contains(name)) continue;
    ServerReflectionRequest request;
    request.set_file_by_filename(name);
    absl::StatusOr<ServerReflectionResponse> response = Ask(*stream, request);
    if (!response.ok()) {
      return fail(absl::Status(
          response.status().code(),
          absl::StrCat("import ", name, ": ", response.status().message())));
    }
    absl::Status s = TakeFiles(*response, seen, wanted, api.files);
    if (!s.ok()) return fail(s);
  }
  stream->WritesDone();
  grpc::Status finish = stream->Finish();
  if (!finish.ok()) return ToAbslStatus(finish);
  return api;
}

absl::StatusOr<DiscoveredApi> DiscoverViaReflection(
    absl::string_view target,
    std::shared_ptr<grpc::ChannelCredentials> credentials,
    absl::Duration timeout) {
  absl::StatusOr<DiscoveredApi> api = DiscoverViaReflection(
      grpc::CreateChannel(std::string(target), std::move(credentials)),
      timeout);
  if (api.ok()) return api;
  return absl::Status(
      api.status().code(),
      absl::StrCat("reflection at ", target, ": ", api.status().message()));
}

}  // namespace stubmesh::gateway
