#ifndef STUBMESH_GATEWAY_HTTP_SERVER_H_
#define STUBMESH_GATEWAY_HTTP_SERVER_H_

// An asynchronous HTTP/1.1 server on Boost.Beast, plain or over TLS
// (Boost.Asio SSL on OpenSSL): keep-alive, pipelined requests answered in
// order, limits on header and body size, and timeouts that cut off slow and
// idle clients (see HttpServerOptions).
//
// The handler is called on an I/O thread with the whole request and a
// responder. It must not block: it may answer at once or later, from any
// thread (e.g. a gRPC completion), exactly once: either a whole response
// (Respond) or a stream (StartStream, then chunks, then End).
// Requests that break the limits are answered by the server itself through
// `error_responder` (413 body too large, 431 headers too large, 400
// malformed), given the request's head as far as it was read, and the
// connection is closed.
//
// Thread-safety: Start/Stop from one thread; the handler runs concurrently
// on `io_threads` threads.
//
// Lifetime: an HttpResponder (every copy) and an HttpStream refer to their
// connection, which lives on the server's I/O context. The owner must make
// sure that whatever answers asynchronously has finished, with every
// responder and stream released and no thread still inside one of their
// calls, before the HttpServer is destroyed: Stop() (no handler starts
// after it), then end or cancel the answerers (~RestGateway does so for its
// unary and streaming calls and /readyz probes), then destroy the server.
// Between Stop() and the destruction an answer is safe to give, but may or may
// not reach the client, and a stream's `done` callbacks are not run (they are
// dropped with the server).
//
// Example:
//   absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Create(
//       options, [](HttpRequest request, HttpResponder respond) {
//         HttpResponse response{boost::beast::http::status::ok, 11};
//         response.body() = "hello";
//         respond(std::move(response));
//       },
//       [](boost::beast::http::status status, std::string message,
//          const HttpRequest& head, absl::Time start) {
//         return MakeErrorResponse(status, message);
//       });
//   (*server)->Start();   // port: (*server)->port()

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/address.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/context.hpp"
#include "boost/beast/http.hpp"

namespace stubmesh::gateway {

using HttpRequest =
    boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse =
    boost::beast::http::response<boost::beast::http::string_body>;

// Header fields sent after a chunked body (name, value).
using HttpTrailers = std::vector<std::pair<std::string, std::string>>;

// A response sent in pieces with chunked transfer encoding. Methods may be
// called from any thread, one at a time: each WriteChunk only after the
// previous one's `done` ran (that is the flow control toward a slow
// client). `done(false)` means the client is gone; stop producing.
class HttpStream {
 public:
  virtual ~HttpStream() = default;
  virtual void WriteChunk(std::string data, std::function<void(bool)> done) = 0;
  // Sends the last (empty) chunk, with `trailers` as the trailer section
  // (a field whose name is not an HTTP token or whose value holds a control
  // character is left out); the connection then serves its next request.
  virtual void End(HttpTrailers trailers) = 0;
  void End() { End(HttpTrailers()); }
};

// How a handler answers. Cheap to copy; all copies answer the same request.
// No copy may outlive the HttpServer (see Lifetime above).
class HttpResponder {
 public:
  // What a responder talks to: the connection that read the request, or a
  // wrapper around another responder (e.g. one that adds headers).
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void Respond(HttpResponse response) = 0;
    virtual std::shared_ptr<HttpStream> StartStream(HttpResponse head) = 0;
    virtual const boost::asio::ip::address& client_address() const = 0;
  };
  explicit HttpResponder(std::shared_ptr<Sink> sink) : sink_(std::move(sink)) {}

  // The whole response.
  void Respond(HttpResponse response) const;
  void operator()(HttpResponse response) const { Respond(std::move(response)); }

  // Sends `head` (status and headers; its body is ignored) with
  // Transfer-Encoding: chunked, and returns the stream for the body.
  std::shared_ptr<HttpStream> StartStream(HttpResponse head) const;

  // The TCP peer's address.
  const boost::asio::ip::address& client_address() const {
    return sink_->client_address();
  }

 private:
  std::shared_ptr<Sink> sink_;
};

using HttpHandler = std::function<void(HttpRequest, HttpResponder)>;
// Builds the server's own error answers from the HTTP status, a message,
// the request's head as far as it was parsed (no fields at all when the
// head itself was too large or unreadable) and when its first byte came.
// Called on an I/O thread; must not block.
using HttpErrorResponder =
    std::function<HttpResponse(boost::beast::http::status, std::string,
                               const HttpRequest& head, absl::Time start)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;        // 0 picks a free port
  int io_threads = 0;  // 0: one per core
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  // Time allowed for a new connection's TLS handshake and request head, and
  // for any request's head from its first byte: a client that sends its
  // head slowly (slowloris) is disconnected then.
  absl::Duration header_timeout = absl::Seconds(10);
  // Time allowed to receive a whole request from its first byte, and to
  // write each answer.
  absl::Duration read_timeout = absl::Seconds(30);
  // Time a kept-alive connection may wait for its next request.
  absl::Duration idle_timeout = absl::Seconds(30);
  // When set, connections speak TLS (see gateway/tls_server_context.h).
  std::shared_ptr<boost::asio::ssl::context> tls;
};

class HttpServer {
 public:
  // Binds the address; errors name it.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(
      const HttpServerOptions& options, HttpHandler handler,
      HttpErrorResponder error_responder);
  ~HttpServer();

  int port() const { return port_; }

  // Starts accepting and the I/O threads.
  void Start();
  // Stops the I/O threads and joins them: no handler or error_responder call
  // starts after it returns. Open connections are closed when the server is
  // destroyed.
  void Stop();

  // What every connection shares (options and callbacks); internal.
  struct Shared;

 private:
  HttpServer() = default;
  void Accept();

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  int io_threads_ = 1;
  int port_ = 0;
};

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_HTTP_SERVER_H_
