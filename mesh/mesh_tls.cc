#include "mesh/mesh_tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace stubmesh::mesh {
namespace {

using ::google::protobuf::util::TimeUtil;

// OpenSSL objects, freed on scope exit.
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using PrivateKey = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertificateStack = std::unique_ptr<STACK_OF(X509), StackFree>;

absl::Status Bad(absl::string_view field, absl::string_view path,
                 absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", path, ": ", why));
}

absl::StatusOr<std::string> ReadFile(absl::string_view field,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Bad(field, path,
               absl::StrCat("cannot be read (", strerror(errno), ")"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate of a PEM text, in order.
CertificateStack ReadCertificates(const std::string& pem) {
  CertificateStack certificates(sk_X509_new_null());
  Bio bio = MemoryBio(pem);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(certificates.get(), x);
  }
  ERR_clear_error();  // The loop ends on a "no start line" error.
  return certificates;
}

absl::StatusOr<CertificateStack> ReadCertificateFile(absl::string_view field,
                                                     const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(field, path);
  if (!pem.ok()) return pem.status();
  CertificateStack certificates = ReadCertificates(*pem);
  if (sk_X509_num(certificates.get()) == 0) {
    return Bad(field, path, "holds no PEM certificate");
  }
  return certificates;
}

std::vector<std::string> UriSans(X509* certificate) {
  std::vector<std::string> uris;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      ASN1_STRING_length(uri));
  }
  GENERAL_NAMES_free(names);
  return uris;
}

// The host of one "host:port", "[v6]:port", "host" or bare IPv6 address.
std::string HostOf(absl::string_view address) {
  if (absl::StartsWith(address, "[")) {
    size_t end = address.find(']');
    return std::string(address.substr(
        1, end == absl::string_view::npos ? absl::string_view::npos : end - 1));
  }
  if (std::count(address.begin(), address.end(), ':') == 1) {
    return std::string(address.substr(0, address.find(':')));
  }
  return std::string(address);
}

// 16 bytes (IPv6) or 4 (IPv4), or empty when `text` is not an IP literal.
std::string IpBytes(const std::string& text) {
  unsigned char buffer[16];
  if (inet_pton(AF_INET, text.c_str(), buffer) == 1) {
    return std::string(reinterpret_cast<char*>(buffer), 4);
  }
  if (inet_pton(AF_INET6, text.c_str(), buffer) == 1) {
    return std::string(reinterpret_cast<char*>(buffer), 16);
  }
  return "";
}

bool DnsNameMatches(absl::string_view pattern, absl::string_view host) {
  if (absl::EqualsIgnoreCase(pattern, host)) return true;
  if (!absl::StartsWith(pattern, "*.")) return false;
  size_t dot = host.find('.');
  return dot != absl::string_view::npos && dot > 0 &&
         absl::EqualsIgnoreCase(pattern.substr(1), host.substr(dot));
}

// "a:p,b:p" of an "ipv4:" or "ipv6:" target; empty for other targets.
absl::string_view AddressList(absl::string_view target) {
  for (absl::string_view scheme : {"ipv4:", "ipv6:"}) {
    if (absl::StartsWith(target, scheme)) {
      return absl::StripPrefix(target.substr(scheme.size()), "//");
    }
  }
  return "";
}

// Accepts a server as MeshChannelCredentials says; runs after gRPC checked
// the chain against the CA.
class ServerIdentityVerifier
    : public grpc::experimental::ExternalCertificateVerifier {
 public:
  // `addresses`: the hosts to check for an address-list target (gRPC's
  // target name is then the override, one host); empty: the target name.
  ServerIdentityVerifier(std::vector<std::string> identities,
                         std::string addresses)
      : identities_(std::move(identities)), addresses_(std::move(addresses)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    *sync_status = Check(*request);
    return true;
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {
  }

 private:
  static std::vector<std::string> Strings(
      const std::vector<grpc::string_ref>& refs) {
    std::vector<std::string> out;
    for (const grpc::string_ref& r : refs) out.emplace_back(r.data(), r.size());
    return out;
  }

  grpc::Status Check(
      grpc::experimental::TlsCustomVerificationCheckRequest& request) const {
    if (!identities_.empty()) {
      std::vector<std::string> uris = Strings(request.uri_names());
      for (const std::string& uri : uris) {
        for (const std::string& pattern : identities_) {
          if (IdentityMatches(pattern, uri)) return grpc::Status::OK;
        }
      }
      return grpc::Status(
          grpc::StatusCode::UNAUTHENTICATED,
          absl::StrCat("server identity [", absl::StrJoin(uris, ", "),
                       "] is none of server_identities [",
                       absl::StrJoin(identities_, ", "), "]"));
    }
    grpc::string_ref target = request.target_name();
    absl::string_view authority =
        !addresses_.empty() ? absl::string_view(addresses_)
                            : absl::string_view(target.data(), target.size());
    if (CertificateCoversAuthority(authority, Strings(request.dns_names()),
                                   Strings(request.ip_names()))) {
      return grpc::Status::OK;
    }
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        absl::StrCat("the server's certificate is not valid for ", authority));
  }

  const std::vector<std::string> identities_;
  const std::string addresses_;
};

}  // namespace

std::string TlsServerNameOverride(absl::string_view target) {
  absl::string_view addresses = AddressList(target);
  if (addresses.empty()) return "";
  return HostOf(addresses.substr(0, addresses.find(',')));
}

bool IdentityMatches(absl::string_view pattern, absl::string_view identity) {
  if (absl::EndsWith(pattern, "*")) {
    return absl::StartsWith(identity, pattern.substr(0, pattern.size() - 1));
  }
  return pattern == identity;
}

bool CertificateCoversAuthority(absl::string_view authority,
                                const std::vector<std::string>& dns_names,
                                const std::vector<std::string>& ip_names) {
  bool any = false;
  for (absl::string_view address :
       absl::StrSplit(authority, ',', absl::SkipEmpty())) {
    any = true;
    const std::string host = HostOf(address);
    const std::string ip = IpBytes(host);
    bool covered = false;
    if (!ip.empty()) {
      for (const std::string& name : ip_names) {
        if (IpBytes(name) == ip) covered = true;
      }
    } else {
      for (const std::string& name : dns_names) {
        if (DnsNameMatches(name, host)) covered = true;
      }
    }
    if (!covered) return false;
  }
  return any;
}

absl::StatusOr<std::vector<std::string>> UriSansOfCertificateFile(
    const std::string& path) {
  absl::StatusOr<CertificateStack> certificates =
      ReadCertificateFile("certificate", path);
  if (!certificates.ok()) return certificates.status();
  return UriSans(sk_X509_value(certificates->get(), 0));
}

absl::StatusOr<std::optional<MeshTlsFiles>> CheckMeshTls(
    const v1::MeshConfig& config, const std::string& cert_file,
    const std::string& key_file) {
  if (!config.has_tls()) {
    if (!cert_file.empty() || !key_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_cert_file/--tls_key_file given, but the mesh config has no "
          "tls (mTLS is off): add \"tls\": {\"caFile\": ...} to it, or drop "
          "the flags");
    }
    return std::optional<MeshTlsFiles>();
  }
  if (cert_file.empty() || key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        cert_file.empty() ? "--tls_cert_file" : "--tls_key_file",
        ": is required: the mesh config has tls (mTLS is on), so this "
        "process needs its own certificate and key"));
  }
  MeshTlsFiles files;
  files.ca_file = config.tls().ca_file();
  files.cert_file = cert_file;
  files.key_file = key_file;
  if (config.tls().has_refresh_interval()) {
    files.refresh_interval = absl::Seconds(
        TimeUtil::DurationToSeconds(config.tls().refresh_interval()));
  }

  absl::StatusOr<CertificateStack> ca =
      ReadCertificateFile("tls.ca_file", files.ca_file);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<CertificateStack> chain =
      ReadCertificateFile("--tls_cert_file", cert_file);
  if (!chain.ok()) return chain.status();
  absl::StatusOr<std::string> key_pem = ReadFile("--tls_key_file", key_file);
  if (!key_pem.ok()) return key_pem.status();
  Bio key_bio = MemoryBio(*key_pem);
  PrivateKey key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return Bad("--tls_key_file", key_file,
               "holds no PEM private key (or an encrypted one)");
  }
  X509* leaf = sk_X509_value(chain->get(), 0);
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return Bad("--tls_key_file", key_file,
               absl::StrCat("does not match the certificate of "
                            "--tls_cert_file (",
                            cert_file, ")"));
  }

  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  for (int i = 0; i < sk_X509_num(ca->get()); ++i) {
    X509_STORE_add_cert(store.get(), sk_X509_value(ca->get(), i));
  }
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> context(X509_STORE_CTX_new());
  X509_STORE_CTX_init(context.get(), store.get(), leaf, chain->get());
  if (X509_verify_cert(context.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(context.get());
    ERR_clear_error();
    return Bad("--tls_cert_file", cert_file,
               absl::StrCat("is not accepted by tls.ca_file (", files.ca_file,
                            "): ", X509_verify_cert_error_string(error)));
  }
  files.identities = UriSans(leaf);
  return std::optional<MeshTlsFiles>(std::move(files));
}

std::shared_ptr<grpc::experimental::CertificateProviderInterface>
NewCertificateProvider(const MeshTlsFiles& files) {
  const int64_t seconds =
      std::max<int64_t>(1, absl::ToInt64Seconds(files.refresh_interval));
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.ca_file,
      static_cast<unsigned int>(seconds));
}

std::shared_ptr<grpc::ServerCredentials> MeshServerCredentials(
    std::shared_ptr<grpc::experimental::CertificateProviderInterface>
        provider) {
  grpc::experimental::TlsServerCredentialsOptions options(std::move(provider));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> MeshChannelCredentials(
    std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider,
    const v1::ServiceMesh& service) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(std::move(provider));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  // The verifier checks the server's identity or hosts; gRPC's per-call
  // host check would compare the certificate against the whole
  // "ipv4:a,b" authority and fail.
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<
          ServerIdentityVerifier>(
          std::vector<std::string>(service.server_identities().begin(),
                                   service.server_identities().end()),
          std::string(AddressList(service.target()))));
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace stubmesh::mesh
