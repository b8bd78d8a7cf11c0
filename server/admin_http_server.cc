#include "server/admin_http_server.h"

#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"

namespace stubmesh::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Probes and scrapers send small requests quickly; anyone slower or larger
// is cut off so that one client cannot hold the only thread.
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr std::uint32_t kMaxHeaderBytes = 8 * 1024;
constexpr std::uint64_t kMaxBodyBytes = 1024;

// One connection: one request, one answer, then close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const AdminHttpHandlers* handlers)
      : stream_(std::move(socket)), handlers_(handlers) {
    parser_.header_limit(kMaxHeaderBytes);
    parser_.body_limit(kMaxBodyBytes);
  }

  void Start() {
    stream_.expires_after(kRequestTimeout);
    http::async_read(
        stream_, buffer_, parser_,
        beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

 private:
  void OnRead(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return Close();
    const http::request<http::string_body>& request = parser_.get();
    AdminHttpResponse answer = Answer(request);
    response_.version(request.version());
    response_.result(static_cast<unsigned>(answer.status));
    response_.set(http::field::content_type, answer.content_type);
    response_.set(http::field::cache_control, "no-store");
    if (answer.status == 405) response_.set(http::field::allow, "GET, HEAD");
    response_.keep_alive(false);
    const std::size_t size = answer.body.size();
    if (request.method() != http::verb::head) {
      response_.body() = std::move(answer.body);
    }
    response_.content_length(size);
    http::async_write(
        stream_, response_,
        beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  AdminHttpResponse Answer(const http::request<http::string_body>& request) {
    if (request.method() != http::verb::get &&
        request.method() != http::verb::head) {
      return {405, "text/plain; charset=utf-8", "method not allowed\n"};
    }
    beast::string_view target = request.target();
    beast::string_view path = target.substr(0, target.find('?'));
    auto it = handlers_->find(std::string(path));
    if (it == handlers_->end()) {
      return {404, "text/plain; charset=utf-8", "not found\n"};
    }
    return it->second();
  }

  void OnWrite(beast::error_code /*ec*/, std::size_t /*bytes*/) { Close(); }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> response_;
  const AdminHttpHandlers* const handlers_;
};

}  // namespace

// Members are destroyed bottom-up: the acceptor before the io_context, and
// the handlers after it, since pending sessions still point at them until
// the io_context drops them.
struct AdminHttpServer::Impl {
  explicit Impl(AdminHttpHandlers h) : handlers(std::move(h)) {}

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) std::make_shared<Session>(std::move(socket), &handlers)->Start();
      Accept();
    });
  }

  const AdminHttpHandlers handlers;
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
};

absl::StatusOr<std::unique_ptr<AdminHttpServer>> AdminHttpServer::Start(
    const std::string& host, int port, AdminHttpHandlers handlers) {
  auto impl = std::make_unique<Impl>(std::move(handlers));
  auto unavailable = [&](const beast::error_code& ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on admin address ", host, " port ", port,
                     ": ", ec.message()));
  };
  beast::error_code ec;
  tcp::resolver resolver(impl->io);
  tcp::resolver::results_type endpoints =
      resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec) return unavailable(ec);
  if (endpoints.empty()) {
    return unavailable(net::error::make_error_code(net::error::not_found));
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return unavailable(ec);
  const int bound_port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<AdminHttpServer>(
      new AdminHttpServer(std::move(impl), bound_port));
}

AdminHttpServer::AdminHttpServer(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

AdminHttpServer::~AdminHttpServer() {
  impl_->io.stop();
  impl_->thread.join();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

}  // namespace stubmesh::server
