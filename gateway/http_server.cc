#include "gateway/http_server.h"

#include <deque>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/ip/address.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core.hpp"

namespace stubmesh::gateway {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

}  // namespace

// What a responder talks to: the session that read the request.
class HttpResponder::Sink {
 public:
  virtual ~Sink() = default;
  virtual void Respond(HttpResponse response) = 0;
  virtual std::shared_ptr<HttpStream> StartStream(HttpResponse head) = 0;
};

void HttpResponder::Respond(HttpResponse response) const {
  sink_->Respond(std::move(response));
}

std::shared_ptr<HttpStream> HttpResponder::StartStream(
    HttpResponse head) const {
  return sink_->StartStream(std::move(head));
}

struct HttpServer::Shared {
  HttpServerOptions options;
  HttpHandler handler;
  HttpErrorResponder error_responder;
};

namespace {

// The stream handed out for a HEAD request: the head is already sent.
class DiscardingStream final : public HttpStream {
 public:
  void WriteChunk(std::string, std::function<void(bool)> done) override {
    if (done) done(false);  // Tells the producer to stop.
  }
  void End() override {}
};

// One connection. Reads a request, hands it to the handler, writes the
// answer, then reads the next one; all I/O runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session>,
                public HttpResponder::Sink,
                public HttpStream {
 public:
  Session(tcp::socket socket, std::shared_ptr<const HttpServer::Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {}

  void Start() {
    net::dispatch(
        stream_.get_executor(),
        beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(shared_->options.max_header_bytes));
    parser_->body_limit(shared_->options.max_body_bytes);
    stream_.expires_after(std::chrono::microseconds(
        absl::ToInt64Microseconds(shared_->options.read_timeout)));
    http::async_read(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof) {
      Close();
      return;
    }
    if (ec) {
      // A bad request: say why once, then close (the stream is out of sync).
      http::status status = http::status::bad_request;
      std::string message =
          absl::StrCat("malformed HTTP request: ", ec.message());
      if (ec == http::error::body_limit) {
        status = http::status::payload_too_large;
        message = absl::StrCat("request body larger than ",
                               shared_->options.max_body_bytes, " bytes");
      } else if (ec == http::error::header_limit) {
        status = http::status::request_header_fields_too_large;
        message = absl::StrCat("request headers larger than ",
                               shared_->options.max_header_bytes, " bytes");
      }
      keep_alive_ = false;
      Write(shared_->error_responder(status, std::move(message)));
      return;
    }
    stream_.expires_never();
    HttpRequest request = parser_->release();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    head_request_ = request.method() == http::verb::head;
    shared_->handler(std::move(request), HttpResponder(shared_from_this()));
  }

  // HttpResponder::Sink
  void Respond(HttpResponse response) override {
    auto self = shared_from_this();
    net::post(stream_.get_executor(),
              [self, response = std::move(response)]() mutable {
                self->Write(std::move(response));
              });
  }

  std::shared_ptr<HttpStream> StartStream(HttpResponse head) override {
    head.version(version_);
    head.keep_alive(keep_alive_);
    head.chunked(true);
    head.body().clear();
    if (head_request_) {
      head.chunked(false);  // A HEAD answer has no body to frame.
      Respond(std::move(head));
      return std::make_shared<DiscardingStream>();
    }
    std::ostringstream bytes;
    bytes << head.base();
    QueueRaw(bytes.str(), nullptr);
    return shared_from_this();
  }

  // HttpStream
  void WriteChunk(std::string data, std::function<void(bool)> done) override {
    if (data.empty()) {  // An empty chunk would end the body.
      if (done) done(true);
      return;
    }
    std::ostringstream size;
    size << std::hex << data.size();
    QueueRaw(absl::StrCat(size.str(), "\r\n", data, "\r\n"), std::move(done));
  }

  void End() override {
    auto self = shared_from_this();
    QueueRaw("0\r\n\r\n", [self](bool ok) {
      // Runs on the strand, after the last chunk went out.
      if (ok && self->keep_alive_) {
        self->Read();
      } else {
        self->Close();
      }
    });
  }

  void Write(HttpResponse response) {
    response.version(version_);
    response.keep_alive(keep_alive_);
    response.prepare_payload();
    // A HEAD answer says how long the body would be, without it.
    if (head_request_) response.body().clear();
    response_ = std::make_shared<HttpResponse>(std::move(response));
    stream_.expires_after(std::chrono::microseconds(
        absl::ToInt64Microseconds(shared_->options.read_timeout)));
    http::async_write(
        stream_, *response_,
        beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t /*bytes*/) {
    response_.reset();
    if (ec || !keep_alive_) {
      Close();
      return;
    }
    Read();
  }

  // Streams write raw, already framed bytes, one after another.
  void QueueRaw(std::string bytes, std::function<void(bool)> done) {
    auto self = shared_from_this();
    net::post(stream_.get_executor(), [self, bytes = std::move(bytes),
                                       done = std::move(done)]() mutable {
      self->raw_queue_.push_back({std::move(bytes), std::move(done)});
      if (self->raw_queue_.size() == 1) self->WriteNextRaw();
    });
  }

  void WriteNextRaw() {
    stream_.expires_after(std::chrono::microseconds(
        absl::ToInt64Microseconds(shared_->options.read_timeout)));
    net::async_write(
        stream_, net::buffer(raw_queue_.front().bytes),
        [self = shared_from_this()](beast::error_code ec, std::size_t) {
          RawWrite done = std::move(self->raw_queue_.front());
          self->raw_queue_.pop_front();
          if (ec) {
            self->raw_failed_ = true;
            self->Close();
          }
          if (done.done) done.done(!self->raw_failed_);
          if (!self->raw_queue_.empty()) {
            if (self->raw_failed_) {
              while (!self->raw_queue_.empty()) {
                RawWrite next = std::move(self->raw_queue_.front());
                self->raw_queue_.pop_front();
                if (next.done) next.done(false);
              }
            } else {
              self->WriteNextRaw();
            }
          }
        });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  std::shared_ptr<const HttpServer::Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpResponse> response_;
  bool keep_alive_ = false;
  bool head_request_ = false;
  unsigned version_ = 11;
  struct RawWrite {
    std::string bytes;
    std::function<void(bool)> done;
  };
  std::deque<RawWrite> raw_queue_;
  bool raw_failed_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(
    const HttpServerOptions& options, HttpHandler handler,
    HttpErrorResponder error_responder) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->shared_ = std::make_shared<Shared>(
      Shared{options, std::move(handler), std::move(error_responder)});
  server->io_threads_ = options.io_threads > 0
                            ? options.io_threads
                            : std::max(1u, std::thread::hardware_concurrency());
  server->io_ = std::make_unique<net::io_context>(server->io_threads_);
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(options.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("host: '", options.host, "' is not an IP address"));
  }
  tcp::endpoint endpoint(address, static_cast<unsigned short>(options.port));
  auto acceptor = std::make_unique<tcp::acceptor>(*server->io_);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ",
                                               options.host, ":", options.port,
                                               ": ", ec.message()));
  }
  server->port_ = acceptor->local_endpoint().port();
  server->acceptor_ = std::move(acceptor);
  return server;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Accept() {
  acceptor_->async_accept(
      net::make_strand(*io_), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted) return;
        if (!ec) {
          beast::error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);
          std::make_shared<Session>(std::move(socket), shared_)->Start();
        }
        Accept();
      });
}

void HttpServer::Start() {
  Accept();
  for (int i = 0; i < io_threads_; ++i) {
    threads_.emplace_back([this] { io_->run(); });
  }
}

void HttpServer::Stop() {
  if (io_ == nullptr) return;
  net::post(*io_, [this] {
    beast::error_code ignored;
    acceptor_->close(ignored);
  });
  io_->stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace stubmesh::gateway
