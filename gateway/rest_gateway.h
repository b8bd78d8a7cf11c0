#ifndef STUBMESH_GATEWAY_REST_GATEWAY_H_
#define STUBMESH_GATEWAY_REST_GATEWAY_H_

// The gateway's request path: HTTP request → route → protobuf → binary gRPC
// call (grpc::GenericStub, no generated code) → JSON answer. Also serves
// /healthz, /readyz, /metrics and /openapi.json.
//
// Server-streaming methods answer 200 with Content-Type
// application/x-ndjson, chunked: one JSON message per line, read from the
// backend only as fast as the client takes them. An error after the first
// message ends the stream with the line {"error": <google.rpc.Status>}; an
// error before it is an ordinary error response. The stream's end is also
// told in HTTP/1.1 chunked trailers (the head declares `Trailer:
// Grpc-Status`): `Grpc-Status: <gRPC code>` (0 when it ended well) and the
// backend's trailing metadata as `Grpc-Metadata-<key>` (the names a unary
// answer uses for headers), so the body lines stay messages only. Clients
// that ignore trailers (browsers' fetch, Python's http.client) lose only
// the metadata: the status is in the body too.
//
// GET /openapi.json answers an OpenAPI 3 document of the catalog in use,
// built once per catalog.
//
// Per request: X-Request-Id is taken or made up (RequestAccounting), and
// returned on every answer; the `Authorization`, `X-Request-Id`,
// `tracestate` and `Grpc-Metadata-<key>` headers become gRPC metadata; the
// gateway is a hop of the trace: the backend gets a `traceparent` with the
// client's trace id and flags and a new span id (a new trace when the
// client sent no valid one, and then no tracestate); the backend's initial
// and trailing metadata come back as `Grpc-Metadata-<key>` headers.
// The deadline of a backend call, first that applies: the request's
// `Grpc-Timeout` (gRPC's format, e.g. "500m"); the mesh config's timeout
// for the method (method_timeouts, timeout) when the config names the
// service; RestGatewayOptions::default_timeout (--default_timeout).
// Every error is a google.rpc.Status JSON body with the HTTP
// status of its code (status/status_mapping.h), including the gateway's own:
// no route 404, wrong method 405 (with Allow), bad input 400, unsupported
// media type 415, backend down or no catalog yet 503, deadline 504.
// Every answer is counted and timed (RequestAccounting).
//
// Thread-safety: thread-safe. The catalog and its backends are swapped
// atomically by SetCatalog(); a request keeps the ones it started with.
//
// Example:
//   RestGateway gateway(options, backends);
//   gateway.SetCatalog(*ApiCatalog::Create(files));
//   server = HttpServer::Create(http_options,
//       [&](HttpRequest r, HttpResponder d) { gateway.Handle(std::move(r), d);
//       },
//       [&](auto status, std::string message, const HttpRequest& head,
//           absl::Time start) {
//         return gateway.ServerErrorResponse(status, std::move(message),
//                                            head, start);
//       });

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/api_catalog.h"
#include "gateway/http_server.h"
#include "gateway/request_accounting.h"
#include "gateway/request_transcoder.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/channel.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/generic/generic_stub.h"
#include "mesh/mesh.h"
#include "prometheus/registry.h"

namespace stubmesh::gateway {

struct RestGatewayOptions {
  TranscodeOptions transcode;
  google::protobuf::util::JsonPrintOptions json;
  absl::Duration default_timeout = absl::Seconds(10);
  // Threads that finish unary calls (read the backend's answer, write the
  // JSON); one is enough for one core.
  int completion_threads = 1;
  // Where /metrics comes from.
  std::shared_ptr<prometheus::Registry> metrics =
      std::make_shared<prometheus::Registry>();
  // Where answers are counted, shared with the layers in front of the
  // gateway; null: one of its own, on `metrics`.
  std::shared_ptr<RequestAccounting> accounting;
};

// Where each service's calls go: full service name → gRPC target; "*" is
// the fallback.
using BackendTargets = std::map<std::string, std::string>;

// Where calls to `service` go when the mesh config does not name it: its
// command-line backend (`flags`), else where reflection found it
// (`discovered`), else the command line's "*" fallback; nullopt when none.
std::optional<std::string> BackendTargetFor(const std::string& service,
                                            const BackendTargets& flags,
                                            const BackendTargets& discovered);

class RestGateway {
 public:
  // Calls go out through `mesh` (not owned; must outlive the gateway): a
  // service the mesh config names goes where the config says, with its
  // policies. For the others, `backends` are the targets given on the
  // command line; they win over the ones SetCatalog() is given.
  RestGateway(RestGatewayOptions options, BackendTargets backends,
              const mesh::Mesh* mesh);
  // Cancels every backend call in flight (unary, server-streaming, /readyz
  // health checks) and returns once each has ended and released its
  // responder; stop the HTTP server first, and destroy it after
  // (http_server.h).
  ~RestGateway();

  // Serves `catalog` from now on. A service's target is the mesh config's,
  // else its entry in the command-line backends, else in `discovered`
  // (where reflection found it), else the "*" fallback. FAILED_PRECONDITION
  // naming the services without a target; the catalog in use is then kept.
  absl::Status SetCatalog(std::shared_ptr<const ApiCatalog> catalog,
                          const BackendTargets& discovered = {});
  std::shared_ptr<const ApiCatalog> catalog() const;

  void Handle(HttpRequest request, HttpResponder respond);

  // The answer to an HTTP-level error, as a google.rpc.Status body.
  static HttpResponse ErrorResponse(boost::beast::http::status status,
                                    std::string message);
  // The same, for HttpServer's error_responder: with the X-Request-Id of
  // `head` (or a new one), counted and timed under route "rejected".
  HttpResponse ServerErrorResponse(boost::beast::http::status status,
                                   std::string message, const HttpRequest& head,
                                   absl::Time start);

 private:
  struct Call;
  class StreamCall;
  // What one catalog is served with; replaced whole by SetCatalog().
  struct Serving {
    std::shared_ptr<const ApiCatalog> catalog;
    std::string openapi_json;  // built once per catalog
    // Service → fallback target for Mesh::Channel ("" when the mesh config
    // names the service).
    std::map<std::string, std::string> target_by_service;
  };
  using Reply = std::function<void(HttpResponse)>;
  std::shared_ptr<const Serving> serving() const;
  void Finish(Call* call, HttpResponse response);
  void PollCompletions();
  void FinishUnary(std::unique_ptr<Call> call);
  void HandleReady(Reply reply);
  // The bookkeeping that lets ~RestGateway cancel and wait for the calls
  // that end on gRPC's threads: a stream is registered while it runs, a
  // /readyz health check while it waits for its backend.
  void StreamStarted(StreamCall* stream);
  // Called by a stream's OnDone after it has released everything it held.
  void StreamEnded();
  void CheckStarted(grpc::ClientContext* context);
  void CheckEnded(grpc::ClientContext* context);
  bool AllCallsEnded() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(calls_mu_);

  const RestGatewayOptions options_;
  const BackendTargets backends_;
  const mesh::Mesh* const mesh_;
  const std::shared_ptr<RequestAccounting> accounting_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const Serving> serving_ ABSL_GUARDED_BY(mu_);

  grpc::CompletionQueue completion_queue_;
  std::vector<std::thread> completion_threads_;
  absl::Mutex calls_mu_;
  absl::flat_hash_set<grpc::ClientContext*> in_flight_
      ABSL_GUARDED_BY(calls_mu_);
  // Streams not yet past OnDone's bookkeeping (cancelled by the
  // destructor), and those whose OnDone has not yet returned (waited for).
  absl::flat_hash_set<StreamCall*> streams_ ABSL_GUARDED_BY(calls_mu_);
  int streams_running_ ABSL_GUARDED_BY(calls_mu_) = 0;
  absl::flat_hash_set<grpc::ClientContext*> health_checks_
      ABSL_GUARDED_BY(calls_mu_);
  bool stopping_ ABSL_GUARDED_BY(calls_mu_) = false;
};

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_REST_GATEWAY_H_
