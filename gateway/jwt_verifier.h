#ifndef STUBMESH_GATEWAY_JWT_VERIFIER_H_
#define STUBMESH_GATEWAY_JWT_VERIFIER_H_

// Verifies bearer JWTs (RFC 7519, compact JWS) signed with HS256 or RS256,
// on OpenSSL.
//
// Each algorithm is verified only with a key of its own kind: HS256 with the
// HMAC secret, RS256 with the RSA public key. A token whose "alg" has no key
// configured is refused, and so is "none", any other algorithm, and a header
// with "crit". Claims checked: "exp" (required) and "nbf" (if present)
// against `now` with `leeway`; "iss" equal to `issuer` and "aud" (string or
// array) holding `audience` when those are set.
//
// Errors are UNAUTHENTICATED with a message that says what is wrong (never
// the token itself), for the error_description of WWW-Authenticate.
//
// Clients send the same token many times, so tokens that verified are
// remembered (at most `cache_size`, dropped a generation at a time): a
// repeat skips the signature and JSON work, but its exp and nbf are checked
// against `now` every time.
//
// Thread-safety: Verify is const and thread-safe; share the verifier as
// std::shared_ptr<const JwtVerifier>.
//
// Example:
//   JwtVerifierOptions options;
//   options.hs256_secret = secret;
//   options.issuer = "https://issuer.example";
//   absl::StatusOr<std::unique_ptr<JwtVerifier>> verifier =
//       JwtVerifier::Create(options);
//   absl::StatusOr<JwtClaims> claims = (*verifier)->Verify(token, absl::Now());
//   // claims->subject, claims->scopes

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace stubmesh::gateway {

struct JwtVerifierOptions {
  // The HS256 key; at least 32 bytes (RFC 7518 3.2). Empty: no HS256.
  std::string hs256_secret;
  // PEM of the RS256 public key ("BEGIN PUBLIC KEY"), RSA of 2048 bits or
  // more. Empty: no RS256.
  std::string rs256_public_key_pem;
  std::string issuer;    // "" accepts any "iss"
  std::string audience;  // "" accepts any "aud"
  absl::Duration leeway = absl::Seconds(30);
  size_t cache_size = 10000;  // 0: no cache
};

// What a verified token says.
struct JwtClaims {
  std::string subject;              // "sub", "" when absent
  std::vector<std::string> scopes;  // "scope" (space-separated) or "scp"
  std::string issuer;
  absl::Time expires;
  absl::Time not_before = absl::InfinitePast();
};

class JwtVerifier {
 public:
  // INVALID_ARGUMENT when neither key is given, the secret is short, or the
  // PEM is not an RSA public key of 2048 bits or more.
  static absl::StatusOr<std::unique_ptr<JwtVerifier>> Create(
      const JwtVerifierOptions& options);
  ~JwtVerifier();

  absl::StatusOr<JwtClaims> Verify(absl::string_view token,
                                   absl::Time now) const;

 private:
  struct Keys;
  JwtVerifier(JwtVerifierOptions options, std::unique_ptr<Keys> keys);
  absl::StatusOr<JwtClaims> VerifyUncached(absl::string_view token) const;
  absl::Status CheckTimes(const JwtClaims& claims, absl::Time now) const;

  const JwtVerifierOptions options_;
  const std::unique_ptr<Keys> keys_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, JwtClaims> recent_
      ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_map<std::string, JwtClaims> older_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_JWT_VERIFIER_H_
