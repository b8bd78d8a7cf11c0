#include "mesh/mesh.h"

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/create_channel.h"
#include "mesh/grpc_service_config.h"
#include "mesh/trace_context.h"

namespace stubmesh::mesh {
namespace {

std::string Metadata(const grpc::CallbackServerContext& context,
                     absl::string_view key) {
  auto it = context.client_metadata().find(
      grpc::string_ref(key.data(), key.size()));
  if (it == context.client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

Mesh::Mesh(MeshOptions options)
    : options_(std::move(options)),
      config_(std::make_shared<const MeshConfig>()) {
  if (options_.metrics != nullptr) {
    client_metrics_ = std::make_shared<ClientMetrics>(*options_.metrics);
  }
  if (options_.tls.has_value()) {
    certificates_ = NewCertificateProvider(*options_.tls);
  }
}

Mesh::~Mesh() {
  stop_watching_.Notify();
  if (watcher_.joinable()) watcher_.join();
}

absl::StatusOr<std::unique_ptr<Mesh>> Mesh::Create(MeshConfig config,
                                                   MeshOptions options) {
  if (config.has_tls() != options.tls.has_value()) {
    return absl::InvalidArgumentError(
        config.has_tls()
            ? "the mesh config has tls (mTLS is on), but this process has no "
              "certificate (--tls_cert_file, --tls_key_file)"
            : "a certificate is given, but the mesh config has no tls");
  }
  if (options.tls.has_value() && options.credentials != nullptr) {
    return absl::InvalidArgumentError(
        "MeshOptions: credentials and tls are exclusive");
  }
  std::optional<v1::MeshTls> tls;
  if (config.has_tls()) tls = config.tls();
  std::unique_ptr<Mesh> mesh(new Mesh(std::move(options)));
  mesh->tls_at_start_ = std::move(tls);
  absl::Status s = mesh->Update(std::move(config));
  if (!s.ok()) return s;
  return mesh;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Mesh::BuildChannel(
    const std::string& service, const v1::ServiceMesh& config) const {
  absl::StatusOr<std::string> json = BuildServiceConfigJson(service, config);
  if (!json.ok()) return json.status();
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(
      std::make_unique<ClientCallInterceptorFactory>(client_metrics_));
  grpc::ChannelArguments arguments = BuildChannelArguments(config, *json);
  if (certificates_ != nullptr) {
    std::string server_name = TlsServerNameOverride(config.target());
    if (!server_name.empty()) arguments.SetSslTargetNameOverride(server_name);
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      config.target(), CredentialsFor(config), arguments,
      std::move(interceptors));
}

std::shared_ptr<grpc::ChannelCredentials> Mesh::CredentialsFor(
    const v1::ServiceMesh& service) const {
  if (certificates_ != nullptr) {
    return MeshChannelCredentials(certificates_, service);
  }
  return options_.credentials != nullptr ? options_.credentials
                                         : grpc::InsecureChannelCredentials();
}

absl::Status Mesh::Update(MeshConfig config) {
  absl::Status s = ValidateMeshConfig(config);
  if (!s.ok()) return s;
  if (config.has_tls() != tls_at_start_.has_value() ||
      (config.has_tls() && !google::protobuf::util::MessageDifferencer::Equals(
                               config.tls(), *tls_at_start_))) {
    return absl::FailedPreconditionError(
        "tls: cannot change while the process runs (restart it); the files "
        "it names are reread");
  }
  // Build outside the lock; channels connect lazily, so this is cheap.
  std::map<std::string, std::shared_ptr<grpc::Channel>> rebuilt;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [service, service_config] : config.services()) {
      auto old = config_->services().find(service);
      if (old != config_->services().end() &&
          google::protobuf::util::MessageDifferencer::Equals(old->second,
                                                             service_config) &&
          channels_.count(service)) {
        rebuilt[service] = channels_[service];
      }
    }
  }
  for (const auto& [service, service_config] : config.services()) {
    if (rebuilt.count(service)) continue;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        BuildChannel(service, service_config);
    if (!channel.ok()) return channel.status();
    rebuilt[service] = *std::move(channel);
  }
  auto snapshot = std::make_shared<const MeshConfig>(std::move(config));
  absl::MutexLock lock(&mu_);
  config_ = std::move(snapshot);
  channels_.clear();
  for (auto& [service, channel] : rebuilt) channels_[service] = std::move(channel);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Mesh::Channel(
    absl::string_view service, absl::string_view fallback_target) const {
  absl::MutexLock lock(&mu_);
  auto it = channels_.find(service);
  if (it != channels_.end()) return it->second;
  if (fallback_target.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "the mesh config has no service ", service,
        " (add it under \"services\" with its target)"));
  }
  auto by_service = fallback_channels_.find(service);
  if (by_service != fallback_channels_.end()) {
    auto by_target = by_service->second.find(fallback_target);
    if (by_target != by_service->second.end()) return by_target->second;
  }
  // Channels for targets outside the config depend on nothing the config
  // says: built once, kept across updates.
  v1::ServiceMesh defaults;
  defaults.set_target(std::string(fallback_target));
  absl::StatusOr<std::shared_ptr<grpc::Channel>> built =
      BuildChannel(std::string(service), defaults);
  if (!built.ok()) return built.status();
  fallback_channels_[std::string(service)][std::string(fallback_target)] =
      *built;
  return *built;
}

absl::Duration Mesh::CallTimeout(absl::string_view service,
                                 absl::string_view method) const {
  absl::MutexLock lock(&mu_);
  auto it = config_->services().find(std::string(service));
  return mesh::CallTimeout(
      it == config_->services().end() ? v1::ServiceMesh() : it->second,
      method);
}

std::unique_ptr<grpc::ClientContext> Mesh::NewClientContext(
    absl::string_view service, absl::string_view method) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(
      absl::ToChronoTime(absl::Now() + CallTimeout(service, method)));
  return context;
}

std::shared_ptr<const MeshConfig> Mesh::config() const {
  absl::MutexLock lock(&mu_);
  return config_;
}

void Mesh::WatchFile(std::string path, absl::Duration interval) {
  // Read now, not in the thread: a change made before the thread runs must
  // still count as a change.
  std::string first;
  {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    first = text.str();
  }
  watcher_ = std::thread([this, path = std::move(path), interval,
                          last = std::move(first)]() mutable {
    while (!stop_watching_.WaitForNotificationWithTimeout(interval)) {
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      if (!in || text.str() == last) continue;
      last = text.str();
      absl::StatusOr<MeshConfig> config = ParseMeshConfig(last);
      absl::Status s = config.ok() ? Update(*std::move(config)) : config.status();
      if (s.ok()) {
        absl::FPrintF(stderr, "mesh: %s changed: channels updated\n", path);
      } else {
        absl::FPrintF(stderr, "mesh: %s changed but is refused, keeping the "
                      "config in use: %s\n", path, s.ToString());
      }
    }
  });
}

std::unique_ptr<grpc::ClientContext> ClientContextFor(
    const grpc::CallbackServerContext& server_context, absl::Duration timeout) {
  std::unique_ptr<grpc::ClientContext> context =
      grpc::ClientContext::FromCallbackServerContext(server_context);
  // gRPC keeps the sooner of this and the incoming call's deadline.
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  std::string request_id = Metadata(server_context, kRequestIdKey);
  context->AddMetadata(kRequestIdKey,
                       request_id.empty() ? NewRequestId() : request_id);
  std::optional<TraceContext> parent =
      ParseTraceparent(Metadata(server_context, kTraceparentKey));
  context->AddMetadata(kTraceparentKey,
                       FormatTraceparent(parent ? ChildSpan(*parent) : NewTrace()));
  std::string tracestate = Metadata(server_context, kTracestateKey);
  if (parent && !tracestate.empty()) {
    context->AddMetadata(kTracestateKey, tracestate);
  }
  return context;
}

}  // namespace stubmesh::mesh
