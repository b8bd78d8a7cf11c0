#include "gateway/http_server.h"

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/read.hpp"
#include "boost/asio/read_until.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

HttpResponse Text(http::status status, std::string body) {
  HttpResponse response(status, 11);
  response.set(http::field::content_type, "text/plain");
  response.body() = std::move(body);
  return response;
}

// The server's own errors, with the X-Request-Id of the head read so far.
HttpResponse ErrorText(http::status status, std::string message,
                       const HttpRequest& head, absl::Time) {
  HttpResponse response = Text(status, std::move(message));
  response.set("X-Request-Id", head["X-Request-Id"]);
  return response;
}

// The threads that answer "/later". A responder must not be used after the
// server is gone (it posts to the server's io_context), so the fixture joins
// them before destroying the server; detached, one could still be inside
// that post when the test ended (ASan: heap-use-after-free).
std::mutex later_threads_mu;
std::vector<std::thread> later_threads;

// Answers "/echo" with the path, "/later" from another thread, "/stream"
// with three chunks.
void Handle(HttpRequest request, HttpResponder respond) {
  std::string target(request.target());
  if (target == "/later") {
    std::lock_guard<std::mutex> lock(later_threads_mu);
    later_threads.emplace_back(
        [respond] { respond(Text(http::status::ok, "later")); });
  } else if (target == "/stream") {
    std::shared_ptr<HttpStream> stream =
        respond.StartStream(Text(http::status::ok, ""));
    stream->WriteChunk("one\n", [stream](bool ok) {
      if (!ok) return;
      stream->WriteChunk("two\n", [stream](bool ok) {
        if (!ok) return;
        stream->End({{"Grpc-Metadata-x-done", "yes"},
                     {"Bad\r\nName", "dropped"},
                     {"X-Split", "a\r\nInjected: 1"}});
      });
    });
  } else {
    respond(Text(http::status::ok, absl::StrCat(target, ":", request.body())));
  }
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions options;
    options.io_threads = 2;
    options.max_body_bytes = 1000;
    options.max_header_bytes = 2000;
    options.read_timeout = absl::Milliseconds(300);
    options.header_timeout = absl::Milliseconds(300);
    options.idle_timeout = absl::Milliseconds(300);
    auto server = HttpServer::Create(options, Handle, ErrorText);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    server_->Start();
  }

  void TearDown() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(later_threads_mu);
      threads.swap(later_threads);
    }
    for (std::thread& thread : threads) thread.join();
  }

  tcp::socket Connect() {
    tcp::socket socket(io_);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                 static_cast<unsigned short>(server_->port())));
    return socket;
  }

  HttpResponse Exchange(tcp::socket& socket, HttpRequest request) {
    request.prepare_payload();
    http::write(socket, request);
    HttpResponse response;
    http::read(socket, buffer_, response);
    return response;
  }

  HttpRequest Get(const std::string& target) {
    HttpRequest request(http::verb::get, target, 11);
    request.set(http::field::host, "127.0.0.1");
    return request;
  }

  net::io_context io_;
  boost::beast::flat_buffer buffer_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  tcp::socket socket = Connect();
  for (int i = 0; i < 3; ++i) {
    HttpResponse response = Exchange(socket, Get(absl::StrCat("/echo", i)));
    EXPECT_EQ(response.result(), http::status::ok);
    EXPECT_EQ(response.body(), absl::StrCat("/echo", i, ":"));
  }
  HttpResponse later = Exchange(socket, Get("/later"));
  EXPECT_EQ(later.body(), "later");
}

TEST_F(HttpServerTest, HeadAnswersWithoutTheBody) {
  tcp::socket socket = Connect();
  HttpRequest head(http::verb::head, "/echo", 11);
  head.set(http::field::host, "x");
  head.prepare_payload();
  http::write(socket, head);
  http::response_parser<http::string_body> parser;
  parser.skip(true);  // What a client does for HEAD.
  http::read(socket, buffer_, parser);
  EXPECT_EQ(parser.get()[http::field::content_length], "6");  // "/echo:"
  // The next answer on the connection starts cleanly.
  EXPECT_EQ(Exchange(socket, Get("/next")).body(), "/next:");
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  tcp::socket socket = Connect();
  std::string two =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
  net::write(socket, net::buffer(two));
  HttpResponse a, b;
  http::read(socket, buffer_, a);
  http::read(socket, buffer_, b);
  EXPECT_EQ(a.body(), "/a:");
  EXPECT_EQ(b.body(), "/b:");
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413AndTheServerGoesOn) {
  tcp::socket socket = Connect();
  HttpRequest request(http::verb::post, "/echo", 11);
  request.set("X-Request-Id", "big-1");
  request.body() = std::string(1001, 'x');
  HttpResponse response = Exchange(socket, request);
  EXPECT_EQ(response.result(), http::status::payload_too_large);
  // The error responder saw the head that was read.
  EXPECT_EQ(response["X-Request-Id"], "big-1");
  tcp::socket again = Connect();
  EXPECT_EQ(Exchange(again, Get("/ok")).result(), http::status::ok);
}

TEST_F(HttpServerTest, HeadersOverTheLimitAre431) {
  tcp::socket socket = Connect();
  HttpRequest request = Get("/echo");
  request.set("X-Big", std::string(3000, 'y'));
  EXPECT_EQ(Exchange(socket, request).result(),
            http::status::request_header_fields_too_large);
}

TEST_F(HttpServerTest, GarbageIs400) {
  tcp::socket socket = Connect();
  net::write(socket, net::buffer(std::string("NOT HTTP AT ALL\r\n\r\n")));
  HttpResponse response;
  http::read(socket, buffer_, response);
  EXPECT_EQ(response.result(), http::status::bad_request);
}

TEST_F(HttpServerTest, SilentNewConnectionIsClosedAfterTheHeaderTimeout) {
  tcp::socket socket = Connect();
  char byte;
  boost::system::error_code ec;
  auto start = std::chrono::steady_clock::now();
  // Blocks until the server closes the connection (bounded by the test
  // timeout if it never does).
  net::read(socket, net::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, net::error::eof);
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(250));
}

TEST_F(HttpServerTest, UnfinishedHeadIsClosedWithoutAnAnswer) {
  tcp::socket socket = Connect();
  net::write(socket, net::buffer(std::string("GET /echo HTTP/1.1\r\nHost: x")));
  // Blocks until the server gives up on the head.
  std::string received;
  boost::system::error_code ec;
  net::read(socket, net::dynamic_buffer(received), ec);
  EXPECT_EQ(ec, net::error::eof);
  EXPECT_EQ(received, "");
}

TEST_F(HttpServerTest, KeptAliveConnectionIsClosedWhenIdle) {
  tcp::socket socket = Connect();
  HttpResponse response = Exchange(socket, Get("/first"));
  EXPECT_TRUE(response.keep_alive());
  char byte;
  boost::system::error_code ec;
  net::read(socket, net::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, net::error::eof);
}

TEST_F(HttpServerTest, HandlerSeesTheClientAddress) {
  // The default handler answers with the path; this server answers with the
  // peer address the responder reports.
  HttpServerOptions options;
  options.io_threads = 1;
  auto server = HttpServer::Create(
      options,
      [](HttpRequest, HttpResponder respond) {
        respond(Text(http::status::ok, respond.client_address().to_string()));
      },
      ErrorText);
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->Start();
  tcp::socket socket(io_);
  socket.open(tcp::v4());
  socket.bind(tcp::endpoint(net::ip::make_address("127.0.0.3"), 0));
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                               static_cast<unsigned short>((*server)->port())));
  EXPECT_EQ(Exchange(socket, Get("/who")).body(), "127.0.0.3");
}

TEST_F(HttpServerTest, StreamIsChunkedAndTheConnectionStaysUsable) {
  tcp::socket socket = Connect();
  HttpResponse response = Exchange(socket, Get("/stream"));
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_TRUE(response.chunked());
  EXPECT_EQ(response.body(), "one\ntwo\n");
  EXPECT_EQ(Exchange(socket, Get("/after")).body(), "/after:");
}

TEST_F(HttpServerTest, StreamEndsWithItsTrailersAndDropsUnsafeOnes) {
  tcp::socket socket = Connect();
  net::write(
      socket,
      net::buffer(std::string("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")));
  // Read raw, up to the end of the trailer section.
  std::string received;
  boost::system::error_code ec;
  net::read_until(socket, net::dynamic_buffer(received), "\r\n0\r\n", ec);
  ASSERT_FALSE(ec) << ec.message();
  net::read_until(socket, net::dynamic_buffer(received), "\r\n\r\n", ec);
  ASSERT_FALSE(ec) << ec.message();
  const std::string last = received.substr(received.find("\r\n0\r\n") + 2);
  EXPECT_EQ(last, "0\r\nGrpc-Metadata-x-done: yes\r\n\r\n") << received;
  // The connection serves its next request after the trailers.
  buffer_.clear();
  HttpRequest after = Get("/after");
  http::write(socket, after);
  HttpResponse response;
  http::read(socket, buffer_, response);
  EXPECT_EQ(response.body(), "/after:");
}

}  // namespace
}  // namespace stubmesh::gateway
