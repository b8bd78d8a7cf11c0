#include "gateway/http_server.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <sstream>
#include <type_traits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/ip/address.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/ssl.hpp"

namespace stubmesh::gateway {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

}  // namespace

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
  using HttpStream::End;
  void WriteChunk(std::string, std::function<void(bool)> done) override {
    if (done) done(false);  // Tells the producer to stop.
  }
  void End(HttpTrailers) override {}
};

bool IsToken(absl::string_view s) {
  static constexpr absl::string_view kSpecial = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(c) ||
           kSpecial.find(c) != absl::string_view::npos;
  });
}

bool IsFieldValue(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == '\t' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  });
}

std::chrono::microseconds Chrono(absl::Duration d) {
  return std::chrono::microseconds(absl::ToInt64Microseconds(d));
}

// One connection. Reads a request, hands it to the handler, writes the
// answer, then reads the next one; all I/O runs on the connection's strand.
// `Stream` is beast::tcp_stream, or beast::ssl_stream of one for TLS.
//
// Reading a request has three deadlines: its first byte within the idle
// timeout (header timeout on a new connection), its head within the header
// timeout of that byte, and the whole request within the read timeout.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>>,
                public HttpResponder::Sink,
                public HttpStream {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <class... StreamArgs>
  Session(std::shared_ptr<const HttpServer::Shared> shared,
          net::ip::address client, StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...),
        shared_(std::move(shared)),
        client_(std::move(client)) {}

  void Start() {
    net::dispatch(tcp().get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->tcp().expires_after(
            Chrono(self->shared_->options.header_timeout));
        self->stream_.async_handshake(
            net::ssl::stream_base::server, [self](beast::error_code ec) {
              if (ec) {
                self->tcp().close();  // not TLS, or too slow: nothing to say
                return;
              }
              self->handshake_done_ = true;
              self->Read(/*first=*/true);
            });
      } else {
        self->Read(/*first=*/true);
      }
    });
  }

  const net::ip::address& client_address() const override { return client_; }

 private:
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }

  // Waits for the next request's first byte (unless a pipelined one is
  // already buffered), then reads its head.
  void Read(bool first = false) {
    if (buffer_.size() > 0) {
      ReadHeader();
      return;
    }
    const HttpServerOptions& options = shared_->options;
    tcp().expires_after(
        Chrono(first ? options.header_timeout : options.idle_timeout));
    stream_.async_read_some(
        buffer_.prepare(8192),
        [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
          if (ec) {
            self->Close();
            return;
          }
          self->buffer_.commit(n);
          self->ReadHeader();
        });
  }

  void ReadHeader() {
    const HttpServerOptions& options = shared_->options;
    request_start_ = std::chrono::steady_clock::now();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser_->body_limit(options.max_body_bytes);
    tcp().expires_at(request_start_ + Chrono(options.header_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(
                                &Session::OnHeader, this->shared_from_this()));
  }

  void OnHeader(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    if (parser_->is_done()) {
      Dispatch();
      return;
    }
    tcp().expires_at(request_start_ + Chrono(shared_->options.read_timeout));
    http::async_read(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::OnBody, this->shared_from_this()));
  }

  void OnBody(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    Dispatch();
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec.category() !=
            http::make_error_code(http::error::body_limit).category()) {
      Close();  // gone, too slow, or a transport (e.g. TLS) error
      return;
    }
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
    const absl::Time start =
        absl::Now() -
        absl::FromChrono(std::chrono::steady_clock::now() - request_start_);
    Write(shared_->error_responder(status, std::move(message), parser_->get(),
                                   start));
  }

  void Dispatch() {
    tcp().expires_never();
    HttpRequest request = parser_->release();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    head_request_ = request.method() == http::verb::head;
    shared_->handler(std::move(request),
                     HttpResponder(this->shared_from_this()));
  }

  // HttpResponder::Sink
  void Respond(HttpResponse response) override {
    // Until its answer comes the session is idle: no read is pending (the
    // next one starts after this write) and no write. So the write starts
    // on the caller's thread (a gRPC completion thread, usually; with TLS the
    // encryption too), and the bytes go out now instead of after an I/O thread
    // wakes up; the write's completion still runs on the strand.
    Write(std::move(response));
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
    return this->shared_from_this();
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

  using HttpStream::End;
  void End(HttpTrailers trailers) override {
    std::string last = "0\r\n";
    for (const auto& [name, value] : trailers) {
      if (!IsToken(name) || !IsFieldValue(value)) continue;
      absl::StrAppend(&last, name, ": ", value, "\r\n");
    }
    last += "\r\n";
    auto self = this->shared_from_this();
    QueueRaw(std::move(last), [self](bool ok) {
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
    tcp().expires_after(Chrono(shared_->options.read_timeout));
    http::async_write(
        stream_, *response_,
        beast::bind_front_handler(&Session::OnWrite, this->shared_from_this()));
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
    auto self = this->shared_from_this();
    net::post(tcp().get_executor(), [self, bytes = std::move(bytes),
                                     done = std::move(done)]() mutable {
      self->raw_queue_.push_back({std::move(bytes), std::move(done)});
      if (self->raw_queue_.size() == 1) self->WriteNextRaw();
    });
  }

  void WriteNextRaw() {
    tcp().expires_after(Chrono(shared_->options.read_timeout));
    net::async_write(
        stream_, net::buffer(raw_queue_.front().bytes),
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
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
    if (closing_) return;
    closing_ = true;
    if constexpr (kTls) {
      if (handshake_done_) {
        // close_notify, then the socket; a peer that never answers it gets
        // a second.
        tcp().expires_after(std::chrono::seconds(1));
        stream_.async_shutdown([self = this->shared_from_this()](
                                   beast::error_code) { self->tcp().close(); });
        return;
      }
    }
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp().close();
  }

  Stream stream_;
  std::shared_ptr<const HttpServer::Shared> shared_;
  const net::ip::address client_;
  std::chrono::steady_clock::time_point request_start_;
  bool handshake_done_ = false;
  bool closing_ = false;
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
          net::ip::address client = socket.remote_endpoint(ignored).address();
          if (shared_->options.tls != nullptr) {
            std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
                shared_, std::move(client), std::move(socket),
                *shared_->options.tls)
                ->Start();
          } else {
            std::make_shared<Session<beast::tcp_stream>>(
                shared_, std::move(client), std::move(socket))
                ->Start();
          }
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
