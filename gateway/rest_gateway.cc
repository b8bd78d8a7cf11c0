#include "gateway/rest_gateway.h"

#include <atomic>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gateway/http_header_value.h"
#include "gateway/openapi_document.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"
#include "mesh/trace_context.h"
#include "prometheus/text_serializer.h"
#include "status/status_mapping.h"

namespace stubmesh::gateway {
namespace {

namespace http = boost::beast::http;

constexpr absl::string_view kJson = "application/json";

boost::beast::string_view Beast(absl::string_view s) {
  return {s.data(), s.size()};
}

absl::string_view View(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

bool IsMetadataKey(absl::string_view key) {
  if (key.empty() || absl::StartsWith(key, "grpc-")) return false;
  for (char c : key) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-' &&
        c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

// "Grpc-Timeout: 1500m" (gRPC's wire format: 1-8 digits and a unit).
absl::StatusOr<absl::Duration> ParseGrpcTimeout(absl::string_view value) {
  absl::Status bad = absl::InvalidArgumentError(absl::StrCat(
      "header 'Grpc-Timeout': '", value.substr(0, 32),
      "' is not a gRPC timeout (1 to 8 digits, then H, M, S, m, u or n)"));
  if (value.size() < 2 || value.size() > 9) return bad;
  int64_t amount;
  if (!absl::SimpleAtoi(value.substr(0, value.size() - 1), &amount) ||
      amount < 0 || !absl::ascii_isdigit(value[0])) {
    return bad;
  }
  switch (value.back()) {
    case 'H':
      return absl::Hours(amount);
    case 'M':
      return absl::Minutes(amount);
    case 'S':
      return absl::Seconds(amount);
    case 'm':
      return absl::Milliseconds(amount);
    case 'u':
      return absl::Microseconds(amount);
    case 'n':
      return absl::Nanoseconds(amount);
    default:
      return bad;
  }
}

HttpResponse JsonResponse(http::status status, std::string body) {
  HttpResponse response(status, 11);
  response.set(http::field::content_type, Beast(kJson));
  response.body() = std::move(body);
  return response;
}

// A backend message's JSON, from its bytes as gRPC received them (one slice,
// as a small message already is).
absl::StatusOr<std::string> JsonOfMessage(
    const HttpRoute& route, const grpc::ByteBuffer& message,
    const google::protobuf::util::JsonPrintOptions& options) {
  grpc::Slice bytes;
  if (!message.TrySingleSlice(&bytes).ok()) message.DumpToSingleSlice(&bytes);
  return TranscodeResponse(
      route,
      absl::string_view(reinterpret_cast<const char*>(bytes.begin()),
                        bytes.size()),
      options);
}

// `detail_types` (may be null) also prints the details whose types only the
// catalog's descriptors know.
HttpResponse ErrorFromStatus(
    const grpc::Status& status,
    google::protobuf::util::TypeResolver* detail_types = nullptr) {
  return JsonResponse(static_cast<http::status>(
                          HttpStatusFromCode(ToAbslStatus(status).code())),
                      JsonErrorBody(status, detail_types));
}

// The gateway's own errors whose HTTP status is not the code's (405, 413,
// 415, 431) keep the canonical code in the body.
HttpResponse GatewayError(http::status http_status, absl::StatusCode code,
                          std::string message) {
  return JsonResponse(http_status,
                      JsonErrorBody(absl::Status(code, std::move(message))));
}

// gRPC metadata as `Grpc-Metadata-<key>` fields: binary values base64,
// text values only when printable ASCII.
HttpTrailers MetadataAsFields(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  HttpTrailers fields;
  for (const auto& [key_ref, value_ref] : metadata) {
    absl::string_view key(key_ref.data(), key_ref.size());
    absl::string_view value(value_ref.data(), value_ref.size());
    std::string name = absl::StrCat("Grpc-Metadata-", key);
    if (absl::EndsWith(key, "-bin")) {
      fields.emplace_back(std::move(name), absl::Base64Escape(value));
    } else if (IsPrintableAscii(value)) {
      fields.emplace_back(std::move(name), std::string(value));
    }
  }
  return fields;
}

void CopyMetadataToHeaders(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    HttpResponse* response) {
  for (auto& [name, value] : MetadataAsFields(metadata)) {
    response->insert(name, value);
  }
}

// A stream's trailer section: its final gRPC status code (the one field
// the head can declare in advance) and the backend's trailing metadata.
HttpTrailers StreamTrailers(const grpc::Status& status,
                            grpc::ClientContext& context) {
  HttpTrailers trailers;
  trailers.emplace_back("Grpc-Status",
                        std::to_string(static_cast<int>(status.error_code())));
  HttpTrailers metadata = MetadataAsFields(context.GetServerTrailingMetadata());
  trailers.insert(trailers.end(), metadata.begin(), metadata.end());
  return trailers;
}

// This hop's span: a child of the client's traceparent (same trace id and
// sampled flag, a new span id), or the root of a new trace when the client
// sent none or one that does not parse (W3C Trace Context: then tracestate
// is dropped too). tracestate goes on unchanged, its headers joined by ",".
void AddTraceContext(const HttpRequest& request, grpc::ClientContext* context) {
  std::optional<mesh::TraceContext> parent;
  auto [first, last] = request.equal_range(mesh::kTraceparentKey);
  if (first != last && std::next(first) == last) {
    parent = mesh::ParseTraceparent(View(first->value()));
  }
  context->AddMetadata(mesh::kTraceparentKey,
                       mesh::FormatTraceparent(parent ? mesh::ChildSpan(*parent)
                                                      : mesh::NewTrace()));
  if (!parent) return;
  std::vector<absl::string_view> states;
  for (auto [it, end] = request.equal_range(mesh::kTracestateKey); it != end;
       ++it) {
    states.push_back(View(it->value()));
  }
  std::string tracestate = absl::StrJoin(states, ",");
  if (!tracestate.empty() && IsPrintableAscii(tracestate)) {
    context->AddMetadata(mesh::kTracestateKey, tracestate);
  }
}

HttpResponse StreamHead(const std::string& request_id) {
  HttpResponse head(http::status::ok, 11);
  head.set(http::field::content_type, "application/x-ndjson");
  head.set(kRequestIdHeader, Beast(request_id));
  head.set(http::field::trailer, "Grpc-Status");
  return head;
}

}  // namespace

struct RestGateway::Call {
  std::shared_ptr<const ApiCatalog> catalog;  // keeps `route` alive
  std::unique_ptr<grpc::GenericStub> stub;    // keeps its channel alive
  const HttpRoute* route = nullptr;
  Reply respond;
  std::string request_id;
  std::string http_method;
  absl::Time start;
  grpc::ClientContext context;
  grpc::ByteBuffer request_bytes;
  grpc::ByteBuffer response_bytes;
  // Unary calls: the pending call on the completion queue, and its status.
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  grpc::Status status;
};

RestGateway::RestGateway(RestGatewayOptions options, BackendTargets backends,
                         const mesh::Mesh* mesh)
    : options_(std::move(options)),
      backends_(std::move(backends)),
      mesh_(mesh),
      accounting_(
          options_.accounting != nullptr
              ? options_.accounting
              : std::make_shared<RequestAccounting>(options_.metrics.get())),
      serving_(std::make_shared<Serving>()) {
  for (int i = 0; i < std::max(1, options_.completion_threads); ++i) {
    completion_threads_.emplace_back([this] { PollCompletions(); });
  }
}

absl::Status RestGateway::SetCatalog(std::shared_ptr<const ApiCatalog> catalog,
                                     const BackendTargets& discovered) {
  std::map<std::string, std::string> target_by_service;
  std::vector<std::string> missing;
  std::shared_ptr<const mesh::MeshConfig> mesh_config = mesh_->config();
  for (const std::string& service : catalog->service_names()) {
    if (mesh_config->services().contains(service)) {
      target_by_service[service] = "";
      continue;
    }
    std::optional<std::string> target =
        BackendTargetFor(service, backends_, discovered);
    if (target.has_value()) {
      target_by_service[service] = *std::move(target);
    } else {
      missing.push_back(service);
    }
  }
  if (!missing.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no backend for ", absl::StrJoin(missing, ", "),
                     " (add --backend=SERVICE=TARGET, or --backend=*=TARGET)"));
  }
  auto serving = std::make_shared<Serving>();
  OpenApiOptions openapi;
  openapi.preserve_proto_field_names = options_.json.preserve_proto_field_names;
  openapi.always_print_enums_as_ints = options_.json.always_print_enums_as_ints;
  serving->openapi_json = BuildOpenApiDocument(*catalog, openapi);
  serving->catalog = std::move(catalog);
  serving->target_by_service = std::move(target_by_service);
  absl::MutexLock lock(&mu_);
  serving_ = std::move(serving);
  return absl::OkStatus();
}

std::shared_ptr<const RestGateway::Serving> RestGateway::serving() const {
  absl::MutexLock lock(&mu_);
  return serving_;
}

std::shared_ptr<const ApiCatalog> RestGateway::catalog() const {
  return serving()->catalog;
}

std::optional<std::string> BackendTargetFor(const std::string& service,
                                            const BackendTargets& flags,
                                            const BackendTargets& discovered) {
  if (auto it = flags.find(service); it != flags.end()) return it->second;
  if (auto it = discovered.find(service); it != discovered.end()) {
    return it->second;
  }
  if (auto it = flags.find("*"); it != flags.end()) return it->second;
  return std::nullopt;
}

HttpResponse RestGateway::ErrorResponse(http::status status,
                                        std::string message) {
  absl::StatusCode code = status == http::status::bad_request
                              ? absl::StatusCode::kInvalidArgument
                              : absl::StatusCode::kResourceExhausted;
  return GatewayError(status, code, std::move(message));
}

HttpResponse RestGateway::ServerErrorResponse(http::status status,
                                              std::string message,
                                              const HttpRequest& head,
                                              absl::Time start) {
  HttpResponse response = ErrorResponse(status, std::move(message));
  accounting_->Answered(
      kRejectedRoute,
      RequestAccounting::MethodLabel(View(head.method_string())), start,
      RequestAccounting::RequestIdOf(head), &response);
  return response;
}

// A server-streaming call: one request written, messages read one at a
// time, each read started only after the previous line reached the client.
class RestGateway::StreamCall final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  static void Start(RestGateway* gateway, std::unique_ptr<Call> call,
                    grpc::GenericStub* stub, const HttpResponder& responder) {
    auto* self = new StreamCall(gateway, std::move(call), responder);
    gateway->StreamStarted(self);
    stub->PrepareBidiStreamingCall(&self->call_->context,
                                   self->call_->route->grpc_path,
                                   grpc::StubOptions(), self);
    self->StartWriteLast(&self->call_->request_bytes, grpc::WriteOptions());
    self->StartRead(&self->call_->response_bytes);
    self->AddHold();  // released when this side stops reading
    self->StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      RemoveHold();
      return;
    }
    absl::StatusOr<std::string> json = JsonOfMessage(
        *call_->route, call_->response_bytes, gateway_->options_.json);
    if (!json.ok()) {
      failure_ = ToGrpcStatus(json.status());
      call_->context.TryCancel();
      RemoveHold();
      return;
    }
    {
      absl::MutexLock lock(&gateway_->calls_mu_);
      if (gateway_->stopping_) {
        // Cancelled by ~RestGateway, which no longer waits on the client.
        RemoveHold();
        return;
      }
      waiting_for_client_ = true;
    }
    if (stream_ == nullptr) {
      HttpResponse head = StreamHead(call_->request_id);
      CopyMetadataToHeaders(call_->context.GetServerInitialMetadata(), &head);
      gateway_->accounting_->Count(call_->route->path_template,
                                   call_->http_method, 200);
      stream_ = responder_.StartStream(std::move(head));
    }
    stream_->WriteChunk(absl::StrCat(*json, "\n"), [this](bool written) {
      {
        absl::MutexLock lock(&gateway_->calls_mu_);
        waiting_for_client_ = false;
      }
      if (written) {
        StartRead(&call_->response_bytes);
      } else {
        call_->context.TryCancel();  // The client is gone.
        RemoveHold();
      }
    });
  }

  void OnDone(const grpc::Status& status) override {
    grpc::Status final = failure_.ok() ? status : failure_;
    if (stream_ == nullptr) {
      if (final.ok()) {
        // No message at all: an empty stream.
        HttpResponse head = StreamHead(call_->request_id);
        CopyMetadataToHeaders(call_->context.GetServerInitialMetadata(), &head);
        gateway_->accounting_->Count(call_->route->path_template,
                                     call_->http_method, 200);
        gateway_->accounting_->ObserveLatency(call_->route->path_template,
                                              call_->http_method, call_->start);
        responder_.StartStream(std::move(head))
            ->End(StreamTrailers(final, call_->context));
      } else {
        HttpResponse response =
            ErrorFromStatus(final, call_->route->json_types);
        CopyMetadataToHeaders(call_->context.GetServerInitialMetadata(),
                              &response);
        CopyMetadataToHeaders(call_->context.GetServerTrailingMetadata(),
                              &response);
        call_->respond(std::move(response));
      }
    } else {
      // A stream is timed to its end.
      gateway_->accounting_->ObserveLatency(call_->route->path_template,
                                            call_->http_method, call_->start);
      if (!final.ok()) {
        stream_->WriteChunk(
            absl::StrCat("{\"error\":",
                         JsonErrorBody(final, call_->route->json_types), "}\n"),
            nullptr);
      }
      stream_->End(StreamTrailers(final, call_->context));
    }
    {
      absl::MutexLock lock(&gateway_->calls_mu_);
      gateway_->streams_.erase(this);
    }
    // What this call holds (the responder among it) is released before
    // the gateway, and after it the HTTP server, may be destroyed.
    RestGateway* gateway = gateway_;
    delete this;
    gateway->StreamEnded();
  }

  // Called by ~RestGateway with calls_mu_ held: cancels the call; true
  // when it waits for a client's `done` that will never come, so the
  // caller must release its hold. (The analysis cannot tell that the
  // caller's calls_mu_ is gateway_->calls_mu_.)
  bool CancelForShutdown() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    call_->context.TryCancel();
    bool waiting = waiting_for_client_;
    waiting_for_client_ = false;
    return waiting;
  }

 private:
  StreamCall(RestGateway* gateway, std::unique_ptr<Call> call,
             HttpResponder responder)
      : gateway_(gateway),
        call_(std::move(call)),
        responder_(std::move(responder)) {}

  RestGateway* const gateway_;
  std::unique_ptr<Call> call_;
  HttpResponder responder_;
  std::shared_ptr<HttpStream> stream_;
  grpc::Status failure_;
  // Between a WriteChunk and its `done`.
  bool waiting_for_client_ ABSL_GUARDED_BY(gateway_->calls_mu_) = false;
};

RestGateway::~RestGateway() {
  // The HTTP server has stopped: no request starts, and no stream's
  // `done` callback will run again, so a stream waiting for its client
  // would hold on forever; it is released here instead.
  std::vector<StreamCall*> waiting_for_client;
  {
    // Calls still waiting for a backend end now instead of at their
    // deadline; their answers go nowhere (the HTTP server is gone).
    absl::MutexLock lock(&calls_mu_);
    stopping_ = true;
    for (grpc::ClientContext* context : in_flight_) context->TryCancel();
    for (grpc::ClientContext* context : health_checks_) context->TryCancel();
    for (StreamCall* stream : streams_) {
      if (stream->CancelForShutdown()) waiting_for_client.push_back(stream);
    }
  }
  // Outside the lock: the last hold may run OnDone right here.
  for (StreamCall* stream : waiting_for_client) stream->RemoveHold();
  completion_queue_.Shutdown();
  for (std::thread& thread : completion_threads_) thread.join();
  absl::MutexLock lock(&calls_mu_);
  calls_mu_.Await(absl::Condition(this, &RestGateway::AllCallsEnded));
}

bool RestGateway::AllCallsEnded() const {
  return streams_running_ == 0 && health_checks_.empty();
}

void RestGateway::StreamStarted(StreamCall* stream) {
  absl::MutexLock lock(&calls_mu_);
  streams_.insert(stream);
  ++streams_running_;
}

void RestGateway::StreamEnded() {
  absl::MutexLock lock(&calls_mu_);
  --streams_running_;
}

void RestGateway::CheckStarted(grpc::ClientContext* context) {
  absl::MutexLock lock(&calls_mu_);
  health_checks_.insert(context);
}

void RestGateway::CheckEnded(grpc::ClientContext* context) {
  absl::MutexLock lock(&calls_mu_);
  health_checks_.erase(context);
}

void RestGateway::Handle(HttpRequest request, HttpResponder respond) {
  const absl::Time start = absl::Now();
  const std::string http_method(request.method_string());
  absl::string_view target(request.target().data(), request.target().size());
  size_t question = target.find('?');
  absl::string_view path = target.substr(0, question);
  absl::string_view query =
      question == absl::string_view::npos ? "" : target.substr(question + 1);

  // The same id as the request guard's, when one ran before.
  const std::string request_id = RequestAccounting::AssignRequestId(&request);
  // Until a route matches, the method is the client's free text: only the
  // standard ones become label values, so clients cannot mint metric series.
  const std::string unrouted_method =
      RequestAccounting::MethodLabel(http_method);
  // Every answer below goes through here: id, count and latency.
  auto reply = [this, respond, request_id, start](
                   HttpResponse response, const std::string& route_label,
                   const std::string& method_label) {
    accounting_->Answered(route_label, method_label, start, request_id,
                          &response);
    respond(std::move(response));
  };

  if (path == "/healthz") {
    reply(JsonResponse(http::status::ok, R"({"status":"ok"})"), "/healthz",
          unrouted_method);
    return;
  }
  if (path == "/readyz") {
    HandleReady([reply, unrouted_method](HttpResponse r) {
      reply(std::move(r), "/readyz", unrouted_method);
    });
    return;
  }
  if (path == "/metrics") {
    HttpResponse response(http::status::ok, 11);
    response.set(http::field::content_type, "text/plain; version=0.0.4");
    response.body() =
        prometheus::TextSerializer().Serialize(options_.metrics->Collect());
    reply(std::move(response), "/metrics", unrouted_method);
    return;
  }

  std::shared_ptr<const Serving> serving = this->serving();
  if (path == "/openapi.json" && serving->catalog != nullptr) {
    reply(JsonResponse(http::status::ok, serving->openapi_json),
          "/openapi.json", unrouted_method);
    return;
  }
  const std::shared_ptr<const ApiCatalog>& catalog = serving->catalog;
  if (catalog == nullptr) {
    // Nothing to route by yet (e.g. every --reflect target was down at
    // start): the client may try again, unlike a 404.
    reply(JsonResponse(http::status::service_unavailable,
                       JsonErrorBody(absl::UnavailableError(
                           "no services loaded yet: the gateway has not "
                           "read any API descriptors (it asks again at its "
                           "next reload)"))),
          "unmatched", unrouted_method);
    return;
  }
  std::optional<RouteMatch> match = catalog->routes().Match(http_method, path);
  if (!match) {
    std::vector<std::string> allowed = catalog->routes().AllowedMethods(path);
    if (!allowed.empty()) {
      HttpResponse response = GatewayError(
          http::status::method_not_allowed, absl::StatusCode::kUnimplemented,
          absl::StrCat(http_method, " is not allowed on ", path,
                       "; allowed: ", absl::StrJoin(allowed, ", ")));
      response.set(http::field::allow, Beast(absl::StrJoin(allowed, ", ")));
      reply(std::move(response), "unmatched", unrouted_method);
      return;
    }
    reply(GatewayError(http::status::not_found, absl::StatusCode::kNotFound,
                       absl::StrCat("no route for ", http_method, " ",
                                    path.substr(0, 256))),
          "unmatched", unrouted_method);
    return;
  }
  const HttpRoute& route = catalog->route(match->route_index);
  const std::string& route_label = route.path_template;

  BodyFormat format = BodyFormat::kNone;
  if (!request.body().empty()) {
    absl::string_view content_type(request[http::field::content_type].data(),
                                   request[http::field::content_type].size());
    absl::string_view media = absl::StripAsciiWhitespace(
        content_type.substr(0, content_type.find(';')));
    if (absl::EqualsIgnoreCase(media, kJson)) {
      format = BodyFormat::kJson;
    } else if (absl::EqualsIgnoreCase(media,
                                      "application/x-www-form-urlencoded")) {
      format = BodyFormat::kForm;
    } else {
      reply(GatewayError(
                http::status::unsupported_media_type,
                absl::StatusCode::kInvalidArgument,
                absl::StrCat("Content-Type '", content_type.substr(0, 64),
                             "' is not supported; send application/json or "
                             "application/x-www-form-urlencoded")),
            route_label, http_method);
      return;
    }
  }

  std::unique_ptr<google::protobuf::Message> message(
      route.request_prototype->New());
  absl::Status s =
      TranscodeRequest(route, *match, query, format, request.body(),
                       options_.transcode, message.get());
  if (!s.ok()) {
    reply(ErrorFromStatus(ToGrpcStatus(s)), route_label, http_method);
    return;
  }

  auto call = std::make_unique<Call>();
  call->catalog = catalog;
  call->route = &route;
  call->request_id = request_id;
  call->http_method = http_method;
  call->start = start;
  call->respond = [reply, route_label, http_method](HttpResponse r) {
    reply(std::move(r), route_label, http_method);
  };

  // Grpc-Timeout, else the mesh config's timeout for the method, else the
  // gateway's default.
  absl::Duration timeout = options_.default_timeout;
  if (serving->target_by_service.at(route.method->service()->full_name())
          .empty()) {
    timeout = mesh_->CallTimeout(route.method->service()->full_name(),
                                 route.method->name());
  }
  if (auto it = request.find("Grpc-Timeout"); it != request.end()) {
    absl::StatusOr<absl::Duration> parsed = ParseGrpcTimeout(
        absl::string_view(it->value().data(), it->value().size()));
    if (!parsed.ok()) {
      call->respond(ErrorFromStatus(ToGrpcStatus(parsed.status())));
      return;
    }
    timeout = *parsed;
  }
  call->context.set_deadline(absl::ToChronoTime(start + timeout));
  call->context.AddMetadata(mesh::kRequestIdKey, request_id);
  AddTraceContext(request, &call->context);
  for (const auto& field : request) {
    absl::string_view name(field.name_string().data(),
                           field.name_string().size());
    absl::string_view value(field.value().data(), field.value().size());
    std::string key;
    if (absl::EqualsIgnoreCase(name, "authorization")) {
      key = absl::AsciiStrToLower(name);
    } else if (absl::StartsWithIgnoreCase(name, "Grpc-Metadata-")) {
      key = absl::AsciiStrToLower(name.substr(strlen("Grpc-Metadata-")));
    } else {
      continue;
    }
    std::string decoded;
    bool binary = absl::EndsWith(key, "-bin");
    if (!IsMetadataKey(key) || (binary ? !absl::Base64Unescape(value, &decoded)
                                       : !IsPrintableAscii(value))) {
      call->respond(ErrorFromStatus(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat(
              "header '", name.substr(0, 64),
              "' cannot be sent as gRPC metadata (lower-case key of "
              "[a-z0-9-_.], printable ASCII value, base64 for -bin)"))));
      return;
    }
    call->context.AddMetadata(key, binary ? decoded : std::string(value));
  }

  bool own_buffer = false;
  grpc::Status serialized =
      grpc::SerializationTraits<google::protobuf::Message>::Serialize(
          *message, &call->request_bytes, &own_buffer);
  if (!serialized.ok()) {
    call->respond(ErrorFromStatus(serialized));
    return;
  }

  // Asked per call: the mesh swaps channels when its config changes.
  const std::string& service = route.method->service()->full_name();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      mesh_->Channel(service, serving->target_by_service.at(service));
  if (!channel.ok()) {
    call->respond(ErrorFromStatus(ToGrpcStatus(channel.status())));
    return;
  }
  call->stub = std::make_unique<grpc::GenericStub>(*std::move(channel));
  grpc::GenericStub* stub = call->stub.get();
  if (route.method->server_streaming()) {
    StreamCall::Start(this, std::move(call), stub, respond);
    return;
  }
  // Unary calls go through the gateway's completion queue, whose threads
  // finish them: one thread hop fewer than the callback API, which hands
  // each completion to a thread of its own first.
  Call* raw = call.get();
  {
    absl::MutexLock lock(&calls_mu_);
    in_flight_.insert(&raw->context);
  }
  raw->reader = stub->PrepareUnaryCall(&raw->context, route.grpc_path,
                                       raw->request_bytes, &completion_queue_);
  raw->reader->StartCall();
  raw->reader->Finish(&raw->response_bytes, &raw->status, raw);
  call.release();  // Owned by the queue until its tag comes back.
}

void RestGateway::PollCompletions() {
  void* tag;
  bool ok;
  while (completion_queue_.Next(&tag, &ok)) {
    std::unique_ptr<Call> call(static_cast<Call*>(tag));
    {
      absl::MutexLock lock(&calls_mu_);
      in_flight_.erase(&call->context);
      if (stopping_) continue;
    }
    FinishUnary(std::move(call));
  }
}

void RestGateway::FinishUnary(std::unique_ptr<Call> call) {
  const grpc::Status& status = call->status;
  if (!status.ok()) {
    HttpResponse response = ErrorFromStatus(status, call->route->json_types);
    CopyMetadataToHeaders(call->context.GetServerInitialMetadata(), &response);
    CopyMetadataToHeaders(call->context.GetServerTrailingMetadata(), &response);
    Finish(call.get(), std::move(response));
    return;
  }
  absl::StatusOr<std::string> json =
      JsonOfMessage(*call->route, call->response_bytes, options_.json);
  if (!json.ok()) {
    Finish(call.get(), ErrorFromStatus(ToGrpcStatus(json.status())));
    return;
  }
  HttpResponse response = JsonResponse(http::status::ok, *std::move(json));
  CopyMetadataToHeaders(call->context.GetServerInitialMetadata(), &response);
  CopyMetadataToHeaders(call->context.GetServerTrailingMetadata(), &response);
  Finish(call.get(), std::move(response));
}

void RestGateway::Finish(Call* call, HttpResponse response) {
  call->respond(std::move(response));  // counted and timed there
}

void RestGateway::HandleReady(Reply respond) {
  struct Probe {
    std::mutex mu;
    int pending = 0;
    std::vector<std::string> not_ready;
    Reply respond;
  };
  struct OneCheck {
    std::unique_ptr<grpc::GenericStub> stub;
    grpc::ClientContext context;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
  };
  static const grpc::ByteBuffer* const kWholeServer = [] {
    // An empty service name asks about the server as a whole.
    grpc::health::v1::HealthCheckRequest request;
    auto* buffer = new grpc::ByteBuffer();
    bool own = false;
    grpc::SerializationTraits<google::protobuf::Message>::Serialize(
        request, buffer, &own);
    return buffer;
  }();
  std::shared_ptr<const Serving> serving = this->serving();
  // One check per distinct channel, named by the services behind it.
  std::map<std::shared_ptr<grpc::Channel>, std::string> channels;
  for (const auto& [service, target] : serving->target_by_service) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        mesh_->Channel(service, target);
    if (!channel.ok()) continue;
    std::string& name = channels[*channel];
    absl::StrAppend(&name, name.empty() ? "" : " ", service);
  }
  auto probe = std::make_shared<Probe>();
  probe->respond = std::move(respond);
  probe->pending = static_cast<int>(channels.size());
  if (channels.empty()) {
    probe->respond(JsonResponse(
        http::status::service_unavailable,
        JsonErrorBody(absl::UnavailableError("no backends configured"))));
    return;
  }
  for (const auto& [channel, name] : channels) {
    auto check = std::make_shared<OneCheck>();
    check->stub = std::make_unique<grpc::GenericStub>(channel);
    check->context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    check->request = *kWholeServer;
    std::string label = name;
    CheckStarted(&check->context);
    check->stub->UnaryCall(
        &check->context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
        &check->request, &check->response,
        [this, probe, check, label](grpc::Status status) {
          grpc::health::v1::HealthCheckResponse health;
          grpc::ProtoBufferReader reader(&check->response);
          bool serving =
              status.ok() && health.ParseFromZeroCopyStream(&reader) &&
              health.status() == grpc::health::v1::HealthCheckResponse::SERVING;
          {
            std::lock_guard<std::mutex> lock(probe->mu);
            if (!serving) probe->not_ready.push_back(label);
            if (--probe->pending == 0) {
              if (probe->not_ready.empty()) {
                probe->respond(
                    JsonResponse(http::status::ok, R"({"status":"ready"})"));
              } else {
                probe->respond(JsonResponse(
                    http::status::service_unavailable,
                    JsonErrorBody(absl::UnavailableError(
                        absl::StrCat("backends not serving: ",
                                     absl::StrJoin(probe->not_ready, ", "))))));
              }
              // The responder goes now, not with the last copy of `probe`,
              // which may outlive the gateway (see ~RestGateway).
              probe->respond = nullptr;
            }
          }
          CheckEnded(&check->context);
        });
  }
}

}  // namespace stubmesh::gateway
