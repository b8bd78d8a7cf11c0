#ifndef STUBMESH_GATEWAY_TLS_SERVER_CONTEXT_H_
#define STUBMESH_GATEWAY_TLS_SERVER_CONTEXT_H_

// The TLS settings of the gateway's HTTPS listener: a certificate chain and
// its private key from PEM files, TLS 1.2 or later, OpenSSL's default
// cipher list, and ALPN that picks "http/1.1" (the only protocol served;
// a client offering only h2 gets no ALPN answer and may fall back or stop).
//
// Thread-safety: the context is read-only once made; share it between
// connections (HttpServerOptions::tls).
//
// Example:
//   absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> tls =
//       MakeTlsServerContext("cert.pem", "key.pem");
//   http_options.tls = *tls;

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "boost/asio/ssl/context.hpp"

namespace stubmesh::gateway {

// INVALID_ARGUMENT naming the file that cannot be read or used, or saying
// that the key does not belong to the certificate.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeTlsServerContext(
    const std::string& cert_chain_file, const std::string& private_key_file);

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_TLS_SERVER_CONTEXT_H_
