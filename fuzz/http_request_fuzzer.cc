// Fuzzes the gateway's HTTP request handling in process, without a socket:
// the input is the raw bytes a client sends, read by Boost.Beast's request
// parser with the server's limits (gateway/http_server.h), each request
// handed to RestGateway::Handle (gateway/rest_gateway.h) over the real
// catalog (fuzz_catalog.h). Backends are an absent Unix socket, so a
// request that gets through transcoding ends in a real, failed gRPC call.
// Up to 4 pipelined requests per input, like a kept-alive connection.
//
// Beyond "no crash": every request is answered exactly once, within 20 s;
// a parse error is answered 4xx; answers carry X-Request-Id; every error
// answer is a JSON google.rpc.Status body with a "code" and a "message";
// nothing a client sends makes a 500.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/buffer.hpp"
#include "boost/asio/ip/address.hpp"
#include "boost/beast/http.hpp"
#include "fuzz/fuzz_catalog.h"
#include "gateway/http_server.h"
#include "gateway/rest_gateway.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "mesh/mesh.h"

namespace {

namespace http = boost::beast::http;
using ::stubmesh::gateway::HttpRequest;
using ::stubmesh::gateway::HttpResponder;
using ::stubmesh::gateway::HttpResponse;
using ::stubmesh::gateway::HttpStream;
using ::stubmesh::gateway::RestGateway;

// HttpServerOptions' defaults.
constexpr size_t kMaxHeaderBytes = 16 * 1024;
constexpr size_t kMaxBodyBytes = 1024 * 1024;

// Collects the one answer to one request, whole or streamed.
class RecordingSink final : public HttpResponder::Sink,
                            public HttpStream,
                            public std::enable_shared_from_this<RecordingSink> {
 public:
  void Respond(HttpResponse response) override {
    absl::MutexLock lock(&mu_);
    if (answers_++ > 0) Fail("answered twice");
    response_ = std::move(response);
    done_ = true;
  }

  std::shared_ptr<HttpStream> StartStream(HttpResponse head) override {
    absl::MutexLock lock(&mu_);
    if (answers_++ > 0) Fail("answered twice");
    response_ = std::move(head);
    response_.body().clear();
    return shared_from_this();
  }

  void WriteChunk(std::string data, std::function<void(bool)> done) override {
    {
      absl::MutexLock lock(&mu_);
      if (done_) Fail("chunk after the end of a stream");
      response_.body() += data;
    }
    if (done) done(true);
  }

  using HttpStream::End;
  void End(::stubmesh::gateway::HttpTrailers) override {
    absl::MutexLock lock(&mu_);
    if (done_) Fail("stream ended twice");
    done_ = true;
  }

  const boost::asio::ip::address& client_address() const override {
    static const boost::asio::ip::address loopback =
        boost::asio::ip::address_v4::loopback();
    return loopback;
  }

  // The answer, once complete; aborts when none comes in time.
  HttpResponse Await() {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Seconds(20))) {
      Fail("no answer within 20 s");
    }
    return response_;
  }

 private:
  static void Fail(const char* why) {
    std::fprintf(stderr, "http_request_fuzzer: %s\n", why);
    std::abort();
  }

  absl::Mutex mu_;
  int answers_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  HttpResponse response_ ABSL_GUARDED_BY(mu_);
};

void CheckAnswer(const HttpResponse& response, bool from_gateway) {
  const int status = response.result_int();
  if (status < 200 || status > 599 || status == 500) {
    std::fprintf(stderr, "status %d for a client's request:\n%s\n", status,
                 response.body().c_str());
    std::abort();
  }
  if (from_gateway && response["X-Request-Id"].empty()) {
    std::fprintf(stderr, "no X-Request-Id\n");
    std::abort();
  }
  if (status < 400) return;
  google::protobuf::Struct body;
  if (!google::protobuf::util::JsonStringToMessage(response.body(), &body)
           .ok() ||
      !body.fields().contains("code") || !body.fields().contains("message")) {
    std::fprintf(stderr, "error %d without a google.rpc.Status body: %s\n",
                 status, response.body().c_str());
    std::abort();
  }
}

stubmesh::mesh::Mesh* mesh = nullptr;
RestGateway* gateway = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  absl::StatusOr<std::unique_ptr<stubmesh::mesh::Mesh>> created =
      stubmesh::mesh::Mesh::Create(stubmesh::mesh::MeshConfig(), {});
  if (!created.ok()) std::abort();
  mesh = created->release();
  stubmesh::gateway::RestGatewayOptions options;
  options.default_timeout = absl::Seconds(5);
  gateway = new RestGateway(
      options, {{"*", "unix:/nonexistent/stubmesh-fuzz-backend.sock"}}, mesh);
  if (!gateway->SetCatalog(stubmesh::fuzz::LoadFuzzCatalog((*argv)[0])).ok()) {
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* next = reinterpret_cast<const char*>(data);
  size_t left = size;
  for (int requests = 0; requests < 4 && left > 0; ++requests) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(kMaxBodyBytes);
    parser.eager(true);
    boost::beast::error_code ec;
    while (!parser.is_done()) {
      size_t used =
          left == 0 ? 0 : parser.put(boost::asio::buffer(next, left), ec);
      next += used;
      left -= used;
      if (ec && ec != http::error::need_more) break;
      ec = {};
      if (used == 0) {  // nothing more to read: the client stopped sending
        parser.put_eof(ec);
        if (!ec && !parser.is_done()) ec = http::error::partial_message;
        break;
      }
    }
    if (ec) {
      // What the server answers before it closes the connection.
      HttpResponse answer = RestGateway::ErrorResponse(
          http::status::bad_request, "malformed HTTP request: " + ec.message());
      CheckAnswer(answer, /*from_gateway=*/false);
      return 0;
    }
    HttpRequest request = parser.release();
    const bool keep_alive = request.keep_alive();
    auto sink = std::make_shared<RecordingSink>();
    gateway->Handle(std::move(request), HttpResponder(sink));
    CheckAnswer(sink->Await(), /*from_gateway=*/true);
    if (!keep_alive) break;
  }
  return 0;
}
