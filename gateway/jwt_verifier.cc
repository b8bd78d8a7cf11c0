#include "gateway/jwt_verifier.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace stubmesh::gateway {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(why);
}

// base64url without padding (RFC 7515 2); absl also takes padded input,
// which JWS forbids.
bool DecodeBase64Url(absl::string_view in, std::string* out) {
  if (in.empty() || in.find('=') != absl::string_view::npos) return false;
  return absl::WebSafeBase64Unescape(in, out);
}

absl::StatusOr<Struct> DecodeJsonPart(absl::string_view part,
                                      absl::string_view what) {
  std::string json;
  if (!DecodeBase64Url(part, &json)) {
    return Unauthenticated(absl::StrCat("token ", what, " is not base64url"));
  }
  Struct object;
  if (!google::protobuf::util::JsonStringToMessage(json, &object).ok()) {
    return Unauthenticated(
        absl::StrCat("token ", what, " is not a JSON object"));
  }
  return object;
}

const Value* Field(const Struct& object, const std::string& name) {
  auto it = object.fields().find(name);
  return it == object.fields().end() ? nullptr : &it->second;
}

// A NumericDate claim; nullopt-like false when absent, error when not a
// number.
absl::StatusOr<bool> ReadTime(const Struct& claims, const std::string& name,
                              absl::Time* out) {
  const Value* value = Field(claims, name);
  if (value == nullptr) return false;
  if (value->kind_case() != Value::kNumberValue ||
      !std::isfinite(value->number_value())) {
    return Unauthenticated(
        absl::StrCat("token claim '", name, "' is not a number of seconds"));
  }
  *out = absl::FromUnixSeconds(0) + absl::Seconds(value->number_value());
  return true;
}

}  // namespace

struct JwtVerifier::Keys {
  EVP_PKEY* rsa = nullptr;
  ~Keys() { EVP_PKEY_free(rsa); }
};

JwtVerifier::JwtVerifier(JwtVerifierOptions options, std::unique_ptr<Keys> keys)
    : options_(std::move(options)), keys_(std::move(keys)) {}

JwtVerifier::~JwtVerifier() = default;

absl::StatusOr<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(
    const JwtVerifierOptions& options) {
  if (options.hs256_secret.empty() && options.rs256_public_key_pem.empty()) {
    return absl::InvalidArgumentError(
        "JWT verifier: give an HS256 secret or an RS256 public key");
  }
  if (!options.hs256_secret.empty() && options.hs256_secret.size() < 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("JWT HS256 secret: ", options.hs256_secret.size(),
                     " bytes; at least 32 are needed"));
  }
  if (options.leeway < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("JWT leeway: must not be negative");
  }
  auto keys = std::make_unique<Keys>();
  if (!options.rs256_public_key_pem.empty()) {
    BIO* bio =
        BIO_new_mem_buf(options.rs256_public_key_pem.data(),
                        static_cast<int>(options.rs256_public_key_pem.size()));
    keys->rsa = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ERR_clear_error();
    if (keys->rsa == nullptr) {
      return absl::InvalidArgumentError(
          "JWT RS256 public key: not a PEM public key (BEGIN PUBLIC KEY)");
    }
    if (EVP_PKEY_base_id(keys->rsa) != EVP_PKEY_RSA) {
      return absl::InvalidArgumentError("JWT RS256 public key: not an RSA key");
    }
    if (EVP_PKEY_get_bits(keys->rsa) < 2048) {
      return absl::InvalidArgumentError(
          absl::StrCat("JWT RS256 public key: ", EVP_PKEY_get_bits(keys->rsa),
                       " bits; at least 2048 are needed"));
    }
  }
  return std::unique_ptr<JwtVerifier>(
      new JwtVerifier(options, std::move(keys)));
}

absl::StatusOr<JwtClaims> JwtVerifier::Verify(absl::string_view token,
                                              absl::Time now) const {
  if (options_.cache_size > 0) {
    absl::MutexLock lock(&mu_);
    auto it = recent_.find(token);
    if (it == recent_.end()) {
      if (auto old = older_.find(token); old != older_.end()) {
        it = recent_.insert(older_.extract(old)).position;
      }
    }
    if (it != recent_.end()) {
      absl::Status times = CheckTimes(it->second, now);
      if (!times.ok()) return times;
      return it->second;
    }
  }
  absl::StatusOr<JwtClaims> claims = VerifyUncached(token);
  if (!claims.ok()) return claims.status();
  absl::Status times = CheckTimes(*claims, now);
  if (!times.ok()) return times;
  if (options_.cache_size > 0) {
    absl::MutexLock lock(&mu_);
    if (recent_.size() >= std::max<size_t>(1, options_.cache_size / 2)) {
      older_ = std::move(recent_);
      recent_.clear();
    }
    recent_.emplace(token, *claims);
  }
  return claims;
}

absl::Status JwtVerifier::CheckTimes(const JwtClaims& claims,
                                     absl::Time now) const {
  if (now > claims.expires + options_.leeway) {
    return Unauthenticated("token expired");
  }
  if (now + options_.leeway < claims.not_before) {
    return Unauthenticated("token is not valid yet ('nbf')");
  }
  return absl::OkStatus();
}

absl::StatusOr<JwtClaims> JwtVerifier::VerifyUncached(
    absl::string_view token) const {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) {
    return Unauthenticated("token is not a JWS in compact form (3 parts)");
  }
  absl::StatusOr<Struct> header = DecodeJsonPart(parts[0], "header");
  if (!header.ok()) return header.status();
  const Value* alg = Field(*header, "alg");
  if (alg == nullptr || alg->kind_case() != Value::kStringValue) {
    return Unauthenticated("token header has no 'alg'");
  }
  if (Field(*header, "crit") != nullptr) {
    return Unauthenticated("token header 'crit' is not supported");
  }
  const std::string& algorithm = alg->string_value();
  const bool hs256 = algorithm == "HS256" && !options_.hs256_secret.empty();
  const bool rs256 = algorithm == "RS256" && keys_->rsa != nullptr;
  if (!hs256 && !rs256) {
    return Unauthenticated(absl::StrCat(
        "token alg '", algorithm.substr(0, 16), "' is not accepted (",
        options_.hs256_secret.empty() ? "" : "HS256",
        !options_.hs256_secret.empty() && keys_->rsa != nullptr ? ", " : "",
        keys_->rsa == nullptr ? "" : "RS256", ")"));
  }
  std::string signature;
  if (!DecodeBase64Url(parts[2], &signature)) {
    return Unauthenticated("token signature is not base64url");
  }
  const absl::string_view signed_part =
      token.substr(0, parts[0].size() + 1 + parts[1].size());
  bool valid = false;
  if (hs256) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_size = 0;
    HMAC(EVP_sha256(), options_.hs256_secret.data(),
         static_cast<int>(options_.hs256_secret.size()),
         reinterpret_cast<const unsigned char*>(signed_part.data()),
         signed_part.size(), mac, &mac_size);
    valid = signature.size() == mac_size &&
            CRYPTO_memcmp(mac, signature.data(), mac_size) == 0;
  } else {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    valid = ctx != nullptr &&
            EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr,
                                 keys_->rsa) == 1 &&
            EVP_DigestVerify(
                ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                signature.size(),
                reinterpret_cast<const unsigned char*>(signed_part.data()),
                signed_part.size()) == 1;
    EVP_MD_CTX_free(ctx);
    // A failed check leaves errors on this thread's queue, where the TLS
    // code of the same I/O thread would read them.
    if (!valid) ERR_clear_error();
  }
  if (!valid) return Unauthenticated("token signature is not valid");

  absl::StatusOr<Struct> claims = DecodeJsonPart(parts[1], "payload");
  if (!claims.ok()) return claims.status();
  JwtClaims out;
  absl::StatusOr<bool> has_exp = ReadTime(*claims, "exp", &out.expires);
  if (!has_exp.ok()) return has_exp.status();
  if (!*has_exp) return Unauthenticated("token has no 'exp' claim");
  absl::StatusOr<bool> has_nbf = ReadTime(*claims, "nbf", &out.not_before);
  if (!has_nbf.ok()) return has_nbf.status();

  if (const Value* iss = Field(*claims, "iss");
      iss != nullptr && iss->kind_case() == Value::kStringValue) {
    out.issuer = iss->string_value();
  }
  if (!options_.issuer.empty() && out.issuer != options_.issuer) {
    return Unauthenticated("token issuer ('iss') is not the expected one");
  }
  if (!options_.audience.empty()) {
    bool found = false;
    if (const Value* aud = Field(*claims, "aud"); aud != nullptr) {
      if (aud->kind_case() == Value::kStringValue) {
        found = aud->string_value() == options_.audience;
      } else if (aud->kind_case() == Value::kListValue) {
        for (const Value& v : aud->list_value().values()) {
          if (v.kind_case() == Value::kStringValue &&
              v.string_value() == options_.audience) {
            found = true;
          }
        }
      }
    }
    if (!found) {
      return Unauthenticated("token audience ('aud') does not name this API");
    }
  }
  if (const Value* sub = Field(*claims, "sub"); sub != nullptr) {
    if (sub->kind_case() != Value::kStringValue) {
      return Unauthenticated("token claim 'sub' is not a string");
    }
    out.subject = sub->string_value();
  }
  // "scope": space-separated (RFC 8693 4.2); "scp": an array or a string.
  for (const char* name : {"scope", "scp"}) {
    const Value* scope = Field(*claims, name);
    if (scope == nullptr) continue;
    if (scope->kind_case() == Value::kStringValue) {
      for (absl::string_view s :
           absl::StrSplit(scope->string_value(), ' ', absl::SkipEmpty())) {
        out.scopes.emplace_back(s);
      }
    } else if (scope->kind_case() == Value::kListValue) {
      for (const Value& v : scope->list_value().values()) {
        if (v.kind_case() == Value::kStringValue) {
          out.scopes.push_back(v.string_value());
        }
      }
    } else {
      return Unauthenticated(
          absl::StrCat("token claim '", name, "' is not a string or array"));
    }
  }
  return out;
}

}  // namespace stubmesh::gateway
