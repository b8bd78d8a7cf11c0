#include "gateway/tls_server_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "absl/strings/str_cat.h"

namespace stubmesh::gateway {
namespace {

namespace ssl = boost::asio::ssl;

// Picks "http/1.1" when the client offers it.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* out_size,
               const unsigned char* offered, unsigned int offered_size, void*) {
  static const unsigned char kHttp11[] = {8,   'h', 't', 't', 'p',
                                          '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_size, kHttp11, sizeof(kHttp11),
                            offered, offered_size) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

absl::StatusOr<std::shared_ptr<ssl::context>> MakeTlsServerContext(
    const std::string& cert_chain_file, const std::string& private_key_file) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds |
                           ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                           ssl::context::single_dh_use,
                       ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("TLS options: ", ec.message()));
  }
  context->use_certificate_chain_file(cert_chain_file, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS certificate '", cert_chain_file,
                     "': cannot be used as a PEM chain: ", ec.message()));
  }
  context->use_private_key_file(private_key_file, ssl::context::pem, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS private key '", private_key_file,
                     "': cannot be used as a PEM key: ", ec.message()));
  }
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "TLS private key '", private_key_file,
        "' does not belong to the certificate '", cert_chain_file, "'"));
  }
  SSL_CTX_set_alpn_select_cb(context->native_handle(), SelectAlpn, nullptr);
  return context;
}

}  // namespace stubmesh::gateway
