// gateway: REST/JSON in front of gRPC services, driven by their descriptors
// and google.api.http annotations.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "gateway/api_catalog.h"
#include "gateway/auth_policy.h"
#include "gateway/cors_policy.h"
#include "gateway/http_server.h"
#include "gateway/jwt_verifier.h"
#include "gateway/rate_limiter.h"
#include "gateway/reflection_discovery.h"
#include "gateway/repeated_flag_args.h"
#include "gateway/request_accounting.h"
#include "gateway/request_guard.h"
#include "gateway/rest_gateway.h"
#include "gateway/tls_server_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "mesh/json_config.h"
#include "mesh/mesh.h"
#include "mesh/mesh_config_flag.h"
#include "server/process_start_time.h"

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
ABSL_FLAG(std::vector<std::string>, reflect, {},
          "gRPC target(s) to discover services from through server "
          "reflection, at start and on every reload; their calls go to that "
          "target unless --backend names the service. A target down at start "
          "is asked again at each reload; with only --reflect and none "
          "answering, the gateway serves 503 until one does. Repeatable.");
ABSL_FLAG(absl::Duration, reload_interval, absl::ZeroDuration(),
          "Rediscover (--reflect) and reread (--descriptor_set) this often; "
          "0: only on SIGHUP.");
ABSL_FLAG(int32_t, io_threads, 0, "HTTP I/O threads; 0: one per core.");
ABSL_FLAG(int64_t, max_body_bytes, 1 << 20, "Largest request body (413).");
ABSL_FLAG(int64_t, max_header_bytes, 16 << 10, "Largest request head (431).");
ABSL_FLAG(absl::Duration, read_timeout, absl::Seconds(30),
          "Time to receive a whole request (from its first byte) and to "
          "write an answer.");
ABSL_FLAG(absl::Duration, header_timeout, absl::Seconds(10),
          "Time for a request's head (and a new connection's TLS handshake); "
          "slower clients are disconnected.");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Seconds(30),
          "Time a kept-alive connection may wait for its next request.");

// Security at the edge.
ABSL_FLAG(std::string, https_cert_file, "",
          "PEM certificate chain: serve HTTPS instead of HTTP (with "
          "--https_key_file). Not the mesh identity of --tls_cert_file.");
ABSL_FLAG(std::string, https_key_file, "",
          "PEM private key of --https_cert_file.");
ABSL_FLAG(std::string, jwt_hs256_secret_file, "",
          "File holding the HS256 secret (32 bytes or more; trailing newlines "
          "are dropped): require bearer JWTs signed with it.");
ABSL_FLAG(std::string, jwt_rs256_public_key_file, "",
          "PEM RSA public key (BEGIN PUBLIC KEY): require bearer JWTs signed "
          "RS256 with its private key.");
ABSL_FLAG(std::string, jwt_issuer, "", "Required token 'iss', if set.");
ABSL_FLAG(std::string, jwt_audience, "",
          "Required token 'aud' (or one of them), if set.");
ABSL_FLAG(absl::Duration, jwt_leeway, absl::Seconds(30),
          "Clock skew allowed on 'exp' and 'nbf'.");
ABSL_FLAG(std::string, auth_default, "token",
          "What requests no --auth_rule matches need when JWTs are "
          "configured: token (any valid one), public, or space-separated "
          "scopes.");
ABSL_FLAG(
    std::vector<std::string>, auth_rule, {},
    "[METHODS ]PATH=public|token|SCOPES, e.g. 'GET /v1/users/*=users.read' "
    "or 'POST|DELETE /v1/users/**=users.write'. PATH is a google.api.http "
    "template; the most specific match wins, a rule naming the method "
    "before one for any method. /healthz and /readyz are always public. "
    "Repeatable.");
ABSL_FLAG(double, rate_limit_rps, 0,
          "Requests per second allowed per client IP (IPv6: per /64), as a "
          "token bucket; 0: no limit. Over it: 429 with Retry-After.");
ABSL_FLAG(double, rate_limit_burst, 0,
          "Bucket size: requests a client may send at once; 0: "
          "max(1, --rate_limit_rps).");
ABSL_FLAG(int64_t, rate_limit_max_clients, 100000,
          "Clients whose buckets are kept (bounds memory); the least recently "
          "seen are dropped first.");
ABSL_FLAG(std::vector<std::string>, cors_allowed_origins, {},
          "Origins (scheme://host[:port]) whose scripts may call the gateway, "
          "or *. Empty: no CORS. Repeatable or comma-separated.");
ABSL_FLAG(std::vector<std::string>, cors_allowed_methods,
          std::vector<std::string>({"GET", "HEAD", "POST", "PUT", "PATCH",
                                    "DELETE"}),
          "Methods a preflight may ask for.");
ABSL_FLAG(std::vector<std::string>, cors_allowed_headers,
          std::vector<std::string>({"Authorization", "Content-Type",
                                    "X-Request-Id", "Grpc-Timeout"}),
          "Request headers a preflight may ask for.");
ABSL_FLAG(std::vector<std::string>, cors_exposed_headers,
          std::vector<std::string>({"X-Request-Id", "Retry-After",
                                    "WWW-Authenticate"}),
          "Response headers scripts may read.");
ABSL_FLAG(bool, cors_allow_credentials, false,
          "Let browsers send cookies and credentials cross-origin.");
ABSL_FLAG(absl::Duration, cors_max_age, absl::Minutes(10),
          "How long browsers may cache a preflight answer.");
ABSL_FLAG(absl::Duration, default_timeout, absl::Seconds(10),
          "Deadline of a backend call when nothing else sets one. First that "
          "applies: the request's Grpc-Timeout header; the mesh config's "
          "timeout for the method (method_timeouts, else timeout) when "
          "--mesh_config names the service; this flag (so for services "
          "reached through --backend or --reflect).");
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

// What each --reflect target said when it last answered: a target that is
// down for a while keeps its routes (its calls then fail with 503), and one
// that was down at start joins at the first reload after it comes up.
std::map<std::string, gw::DiscoveredApi>& LastDiscovered() {
  static auto* last = new std::map<std::string, gw::DiscoveredApi>();
  return *last;
}

// Reads the descriptor sets and asks the reflection targets, then swaps the
// gateway's catalog. On any error the catalog in use stays.
absl::Status LoadCatalog(gw::RestGateway& gateway,
                         const stubmesh::mesh::Mesh& mesh) {
  std::vector<google::protobuf::FileDescriptorProto> files;
  for (const std::string& path : absl::GetFlag(FLAGS_descriptor_set)) {
    absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>> set =
        gw::ReadFileDescriptorSet(path);
    if (!set.ok()) return set.status();
    files.insert(files.end(), set->begin(), set->end());
  }
  gw::BackendTargets discovered;
  for (const std::string& target : absl::GetFlag(FLAGS_reflect)) {
    absl::StatusOr<gw::DiscoveredApi> asked = gw::DiscoverViaReflection(
        grpc::CreateChannel(
            target, mesh.CredentialsFor(stubmesh::mesh::v1::ServiceMesh())),
        absl::Seconds(2));
    if (asked.ok()) {
      LastDiscovered()[target] = *std::move(asked);
    } else {
      absl::FPrintF(stderr, "gateway: --reflect=%s: %s%s\n", target,
                    asked.status().ToString(),
                    LastDiscovered().count(target)
                        ? " (keeping what it served before)"
                        : " (asking again at the next reload)");
    }
    auto last = LastDiscovered().find(target);
    if (last == LastDiscovered().end()) continue;
    const gw::DiscoveredApi* api = &last->second;
    files.insert(files.end(), api->files.begin(), api->files.end());
    for (const std::string& service : api->services) {
      discovered.emplace(service, target);
    }
  }
  if (files.empty()) {
    if (!absl::GetFlag(FLAGS_reflect).empty()) {
      // Only --reflect, none has answered yet: the caller may wait for one.
      return absl::UnavailableError(
          "no descriptors yet: no --reflect target has answered");
    }
    return absl::InvalidArgumentError(
        "no descriptors: give a --descriptor_set, or a --reflect target that "
        "answers");
  }
  absl::StatusOr<std::shared_ptr<const gw::ApiCatalog>> catalog =
      gw::ApiCatalog::Create(files);
  if (!catalog.ok()) return catalog.status();
  absl::Status s = gateway.SetCatalog(*catalog, discovered);
  if (!s.ok()) return s;
  absl::FPrintF(stderr, "gateway: serving %d routes of %s\n",
                (*catalog)->http_routes().size(),
                absl::StrJoin((*catalog)->service_names(), ", "));
  return absl::OkStatus();
}

// The guard in front of the gateway (gateway/request_guard.h) from the
// flags; nullptr when no flag asks for one.
absl::StatusOr<std::unique_ptr<gw::RequestGuard>> MakeGuard(
    std::shared_ptr<prometheus::Registry> metrics,
    std::shared_ptr<gw::RequestAccounting> accounting, gw::HttpHandler next) {
  gw::RequestGuardOptions guard;
  guard.metrics = std::move(metrics);
  guard.accounting = std::move(accounting);
  const std::string hs_file = absl::GetFlag(FLAGS_jwt_hs256_secret_file);
  const std::string rs_file = absl::GetFlag(FLAGS_jwt_rs256_public_key_file);
  if (!hs_file.empty() || !rs_file.empty()) {
    gw::JwtVerifierOptions jwt;
    if (!hs_file.empty()) {
      absl::StatusOr<std::string> secret =
          stubmesh::mesh::ReadConfigFile(hs_file, "--jwt_hs256_secret_file");
      if (!secret.ok()) return secret.status();
      absl::string_view trimmed = *secret;
      while (absl::ConsumeSuffix(&trimmed, "\n") ||
             absl::ConsumeSuffix(&trimmed, "\r")) {
      }
      jwt.hs256_secret = std::string(trimmed);
    }
    if (!rs_file.empty()) {
      absl::StatusOr<std::string> pem = stubmesh::mesh::ReadConfigFile(
          rs_file, "--jwt_rs256_public_key_file");
      if (!pem.ok()) return pem.status();
      jwt.rs256_public_key_pem = *pem;
    }
    jwt.issuer = absl::GetFlag(FLAGS_jwt_issuer);
    jwt.audience = absl::GetFlag(FLAGS_jwt_audience);
    jwt.leeway = absl::GetFlag(FLAGS_jwt_leeway);
    absl::StatusOr<std::unique_ptr<gw::JwtVerifier>> verifier =
        gw::JwtVerifier::Create(jwt);
    if (!verifier.ok()) return verifier.status();
    guard.jwt = *std::move(verifier);
    absl::StatusOr<gw::AuthRequirement> fallback =
        gw::AuthRequirement::Parse(absl::GetFlag(FLAGS_auth_default));
    if (!fallback.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--auth_default: ", fallback.status().message()));
    }
    absl::StatusOr<std::unique_ptr<gw::AuthPolicy>> policy =
        gw::AuthPolicy::Create(*fallback, absl::GetFlag(FLAGS_auth_rule));
    if (!policy.ok()) return policy.status();
    guard.auth = *std::move(policy);
  } else if (!absl::GetFlag(FLAGS_auth_rule).empty()) {
    return absl::InvalidArgumentError(
        "--auth_rule needs --jwt_hs256_secret_file or "
        "--jwt_rs256_public_key_file");
  }
  if (absl::GetFlag(FLAGS_rate_limit_rps) != 0) {
    gw::RateLimiterOptions limit;
    limit.rate_per_second = absl::GetFlag(FLAGS_rate_limit_rps);
    limit.burst = absl::GetFlag(FLAGS_rate_limit_burst);
    if (limit.burst == 0) limit.burst = std::max(1.0, limit.rate_per_second);
    limit.max_clients = static_cast<size_t>(
        std::max<int64_t>(0, absl::GetFlag(FLAGS_rate_limit_max_clients)));
    absl::StatusOr<std::unique_ptr<gw::RateLimiter>> limiter =
        gw::RateLimiter::Create(limit);
    if (!limiter.ok()) return limiter.status();
    guard.rate_limiter = *std::move(limiter);
  }
  if (!absl::GetFlag(FLAGS_cors_allowed_origins).empty()) {
    gw::CorsOptions cors;
    cors.allowed_origins = absl::GetFlag(FLAGS_cors_allowed_origins);
    cors.allowed_methods = absl::GetFlag(FLAGS_cors_allowed_methods);
    cors.allowed_headers = absl::GetFlag(FLAGS_cors_allowed_headers);
    cors.exposed_headers = absl::GetFlag(FLAGS_cors_exposed_headers);
    cors.allow_credentials = absl::GetFlag(FLAGS_cors_allow_credentials);
    cors.max_age = absl::GetFlag(FLAGS_cors_max_age);
    absl::StatusOr<std::unique_ptr<gw::CorsPolicy>> policy =
        gw::CorsPolicy::Create(cors);
    if (!policy.ok()) return policy.status();
    guard.cors = *std::move(policy);
  }
  if (guard.jwt == nullptr && guard.rate_limiter == nullptr &&
      guard.cors == nullptr) {
    return std::unique_ptr<gw::RequestGuard>();
  }
  return gw::RequestGuard::Create(std::move(guard), std::move(next));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "REST/JSON gateway to gRPC services. Example:\n"
      "  gateway --port=8080 --descriptor_set=protos.pb \\\n"
      "    --backend=stubmesh.user.v1.UserService=127.0.0.1:50051 \\\n"
      "    --backend=*=127.0.0.1:50052\n"
      "A backend call's deadline is the request's Grpc-Timeout header, else "
      "the mesh config's timeout for the method when --mesh_config names the "
      "service, else --default_timeout.");
  std::vector<std::string> args = gw::JoinRepeatedFlags(
      argc, argv,
      {"backend", "descriptor_set", "reflect", "auth_rule",
       "cors_allowed_origins", "cors_allowed_methods", "cors_allowed_headers",
       "cors_exposed_headers"});
  std::vector<char*> joined = gw::ArgvOf(args);
  absl::ParseCommandLine(static_cast<int>(joined.size()), joined.data());
  // Debian's Abseil is built with Mutex deadlock detection on, which keeps
  // a lock graph on every Lock() of the request path (a profile showed it);
  // a debugging aid, not for serving.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  gw::BackendTargets backends;
  for (const std::string& spec : absl::GetFlag(FLAGS_backend)) {
    std::vector<std::string> parts =
        absl::StrSplit(spec, absl::MaxSplits('=', 1));
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return Fail(absl::StrFormat(
          "--backend=%s: expected SERVICE=TARGET or *=TARGET", spec));
    }
    backends[parts[0]] = parts[1];
  }

  gw::RestGatewayOptions options;
  // As the services do: a restart shows on /metrics (ReplicaRestarting in
  // deploy/prometheus/alerts.yml).
  stubmesh::server::ExportProcessStartTime(*options.metrics);
  options.default_timeout = absl::GetFlag(FLAGS_default_timeout);
  // One place counts every answer: the HTTP server's, the guard's and the
  // gateway's.
  options.accounting =
      std::make_shared<gw::RequestAccounting>(options.metrics.get());
  // As many threads finishing gRPC calls as serving HTTP.
  options.completion_threads =
      absl::GetFlag(FLAGS_io_threads) > 0
          ? absl::GetFlag(FLAGS_io_threads)
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.transcode.ignore_unknown_fields =
      absl::GetFlag(FLAGS_allow_unknown_fields);
  options.json.preserve_proto_field_names =
      absl::GetFlag(FLAGS_json_use_proto_names);
  options.json.always_print_primitive_fields =
      absl::GetFlag(FLAGS_json_emit_unpopulated);
  options.json.always_print_enums_as_ints =
      absl::GetFlag(FLAGS_json_enums_as_ints);
  // Signals are taken by sigwait in main; no other thread may see them, so
  // they are blocked before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::optional<stubmesh::mesh::MeshConfig>> mesh_config =
      stubmesh::mesh::MeshConfigFromFlag();
  if (!mesh_config.ok()) return Fail(mesh_config.status().ToString());
  stubmesh::mesh::MeshOptions mesh_options;
  mesh_options.metrics = options.metrics;
  // With the mesh config's tls, backend calls present --tls_cert_file.
  absl::StatusOr<std::optional<stubmesh::mesh::MeshTlsFiles>> tls =
      stubmesh::mesh::MeshTlsFromFlags(
          mesh_config->value_or(stubmesh::mesh::MeshConfig()));
  if (!tls.ok()) return Fail(tls.status().ToString());
  mesh_options.tls = *tls;
  absl::StatusOr<std::unique_ptr<stubmesh::mesh::Mesh>> mesh =
      stubmesh::mesh::Mesh::Create(
          mesh_config->value_or(stubmesh::mesh::MeshConfig()), mesh_options);
  if (!mesh.ok()) return Fail(mesh.status().ToString());
  if (!absl::GetFlag(FLAGS_mesh_config).empty()) {
    (*mesh)->WatchFile(absl::GetFlag(FLAGS_mesh_config), absl::Seconds(2));
  }

  // Declared before the gateway so that it is destroyed after it: unary
  // calls in flight hold responders of the server's connections until
  // ~RestGateway cancels them, and a responder must not outlive its server
  // (http_server.h).
  std::unique_ptr<gw::HttpServer> server;
  gw::RestGateway gateway(options, std::move(backends), mesh->get());
  absl::Status s = LoadCatalog(gateway, **mesh);
  if (absl::IsUnavailable(s)) {
    absl::FPrintF(
        stderr,
        "gateway: %s; serving 503 until one does (asking again at "
        "each reload: SIGHUP%s)\n",
        s.message(),
        absl::GetFlag(FLAGS_reload_interval) > absl::ZeroDuration()
            ? absl::StrCat(" or every ", absl::FormatDuration(absl::GetFlag(
                                             FLAGS_reload_interval)))
            : "");
  } else if (!s.ok()) {
    return Fail(s.ToString());
  }

  gw::HttpServerOptions http;
  http.host = absl::GetFlag(FLAGS_host);
  http.port = absl::GetFlag(FLAGS_port);
  http.io_threads = absl::GetFlag(FLAGS_io_threads);
  http.max_body_bytes = absl::GetFlag(FLAGS_max_body_bytes);
  http.max_header_bytes = absl::GetFlag(FLAGS_max_header_bytes);
  http.read_timeout = absl::GetFlag(FLAGS_read_timeout);
  http.header_timeout = absl::GetFlag(FLAGS_header_timeout);
  http.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  const std::string cert = absl::GetFlag(FLAGS_https_cert_file);
  const std::string key = absl::GetFlag(FLAGS_https_key_file);
  if (cert.empty() != key.empty()) {
    return Fail("--https_cert_file and --https_key_file go together");
  }
  if (!cert.empty()) {
    absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> tls =
        gw::MakeTlsServerContext(cert, key);
    if (!tls.ok()) return Fail(tls.status().ToString());
    http.tls = *std::move(tls);
  }
  gw::HttpHandler handler = [&gateway](gw::HttpRequest request,
                                       gw::HttpResponder respond) {
    gateway.Handle(std::move(request), std::move(respond));
  };
  absl::StatusOr<std::unique_ptr<gw::RequestGuard>> guard =
      MakeGuard(options.metrics, options.accounting, handler);
  if (!guard.ok()) return Fail(guard.status().ToString());
  if (*guard != nullptr) {
    handler = [guard = guard->get()](gw::HttpRequest request,
                                     gw::HttpResponder respond) {
      guard->Handle(std::move(request), std::move(respond));
    };
  }
  absl::StatusOr<std::unique_ptr<gw::HttpServer>> created =
      gw::HttpServer::Create(
          http, handler,
          [&gateway](boost::beast::http::status status, std::string message,
                     const gw::HttpRequest& head, absl::Time start) {
            return gateway.ServerErrorResponse(status, std::move(message), head,
                                               start);
          });
  if (!created.ok()) return Fail(created.status().ToString());
  server = *std::move(created);
  server->Start();
  std::string host = http.host.find(':') != std::string::npos
                         ? "[" + http.host + "]"
                         : http.host;
  std::printf("gateway listening on %s:%d\n", host.c_str(), server->port());
  std::fflush(stdout);

  const absl::Duration interval = absl::GetFlag(FLAGS_reload_interval);
  int signo = 0;
  while (true) {
    if (interval > absl::ZeroDuration()) {
      timespec wait = absl::ToTimespec(interval);
      signo = sigtimedwait(&signals, nullptr, &wait);
      if (signo < 0) signo = SIGHUP;  // The interval passed: reload.
    } else {
      sigwait(&signals, &signo);
    }
    if (signo != SIGHUP) break;
    absl::Status reloaded = LoadCatalog(gateway, **mesh);
    if (!reloaded.ok()) {
      absl::FPrintF(stderr,
                    "gateway: reload failed, keeping the routes in use: %s\n",
                    reloaded.ToString());
    }
  }
  absl::FPrintF(stderr, "gateway: got signal %d, stopping\n", signo);
  server->Stop();
  return 0;
}
