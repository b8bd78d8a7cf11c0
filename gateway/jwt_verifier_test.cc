#include "gateway/jwt_verifier.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

// Tokens are made here with OpenSSL's own HMAC and RSA signing, not with the
// code under test.

namespace stubmesh::gateway {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";

std::string B64(absl::string_view s) { return absl::WebSafeBase64Escape(s); }

std::string Hs256(const std::string& signing_input, const std::string& key) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()),
       signing_input.size(), mac, &size);
  return std::string(reinterpret_cast<char*>(mac), size);
}

std::string Rs256(const std::string& signing_input, EVP_PKEY* key) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t size = 0;
  EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(
                ctx, nullptr, &size,
                reinterpret_cast<const unsigned char*>(signing_input.data()),
                signing_input.size()),
            1);
  std::string signature(size, '\0');
  EXPECT_EQ(EVP_DigestSign(
                ctx, reinterpret_cast<unsigned char*>(signature.data()), &size,
                reinterpret_cast<const unsigned char*>(signing_input.data()),
                signing_input.size()),
            1);
  signature.resize(size);
  EVP_MD_CTX_free(ctx);
  return signature;
}

std::string PublicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, size);
  BIO_free(bio);
  return pem;
}

std::string Claims(absl::string_view extra = "") {
  return absl::StrCat(R"({"sub":"user-42","scope":"users.read orders.write",)",
                      R"("exp":)", absl::ToUnixSeconds(kNow) + 600,
                      extra.empty() ? "" : ",", extra, "}");
}

std::string HsToken(
    const std::string& claims, const std::string& key = kSecret,
    const std::string& header = R"({"alg":"HS256","typ":"JWT"})") {
  std::string input = absl::StrCat(B64(header), ".", B64(claims));
  return absl::StrCat(input, ".", B64(Hs256(input, key)));
}

class JwtVerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = EVP_RSA_gen(2048);
    other_rsa_ = EVP_RSA_gen(2048);
  }
  static void TearDownTestSuite() {
    EVP_PKEY_free(rsa_);
    EVP_PKEY_free(other_rsa_);
  }

  std::string RsToken(const std::string& claims, EVP_PKEY* key = rsa_) {
    std::string input =
        absl::StrCat(B64(R"({"alg":"RS256","typ":"JWT"})"), ".", B64(claims));
    return absl::StrCat(input, ".", B64(Rs256(input, key)));
  }

  std::unique_ptr<JwtVerifier> Verifier(JwtVerifierOptions options) {
    auto verifier = JwtVerifier::Create(options);
    EXPECT_TRUE(verifier.ok()) << verifier.status();
    return verifier.ok() ? *std::move(verifier) : nullptr;
  }
  std::unique_ptr<JwtVerifier> HsVerifier() {
    JwtVerifierOptions options;
    options.hs256_secret = kSecret;
    return Verifier(options);
  }
  std::unique_ptr<JwtVerifier> RsVerifier() {
    JwtVerifierOptions options;
    options.rs256_public_key_pem = PublicPem(rsa_);
    return Verifier(options);
  }

  static void ExpectRefused(const absl::StatusOr<JwtClaims>& result,
                            absl::string_view why) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_NE(result.status().message().find(why), absl::string_view::npos)
        << result.status();
  }

  static EVP_PKEY* rsa_;
  static EVP_PKEY* other_rsa_;
};

EVP_PKEY* JwtVerifierTest::rsa_ = nullptr;
EVP_PKEY* JwtVerifierTest::other_rsa_ = nullptr;

TEST_F(JwtVerifierTest, Hs256TokenGivesItsClaims) {
  absl::StatusOr<JwtClaims> claims =
      HsVerifier()->Verify(HsToken(Claims()), kNow);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "user-42");
  EXPECT_EQ(claims->scopes,
            (std::vector<std::string>{"users.read", "orders.write"}));
  EXPECT_EQ(claims->expires, kNow + absl::Seconds(600));
}

TEST_F(JwtVerifierTest, Rs256TokenGivesItsClaims) {
  absl::StatusOr<JwtClaims> claims =
      RsVerifier()->Verify(RsToken(Claims(R"("iss":"me")")), kNow);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "user-42");
  EXPECT_EQ(claims->issuer, "me");
}

TEST_F(JwtVerifierTest, ScpArrayIsReadAsScopes) {
  absl::StatusOr<JwtClaims> claims = HsVerifier()->Verify(
      HsToken(absl::StrCat(R"({"scp":["a","b"],"exp":)",
                           absl::ToUnixSeconds(kNow) + 5, "}")),
      kNow);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->scopes, (std::vector<std::string>{"a", "b"}));
}

TEST_F(JwtVerifierTest, ForgedSignaturesAreRefused) {
  ExpectRefused(
      HsVerifier()->Verify(HsToken(Claims(), std::string(40, 'x')), kNow),
      "signature is not valid");
  ExpectRefused(RsVerifier()->Verify(RsToken(Claims(), other_rsa_), kNow),
                "signature is not valid");
  // A payload swapped under a valid signature.
  std::string token = HsToken(Claims());
  std::string other = HsToken(Claims(R"("admin":true)"));
  std::string spliced = absl::StrCat(
      token.substr(0, token.find('.')), ".",
      other.substr(other.find('.') + 1, other.rfind('.') - other.find('.') - 1),
      token.substr(token.rfind('.')));
  ExpectRefused(HsVerifier()->Verify(spliced, kNow), "signature is not valid");
}

TEST_F(JwtVerifierTest, AlgNoneIsRefused) {
  std::string token =
      absl::StrCat(B64(R"({"alg":"none"})"), ".", B64(Claims()), ".");
  ExpectRefused(HsVerifier()->Verify(token, kNow), "alg 'none'");
  // Even with some signature bytes.
  ExpectRefused(HsVerifier()->Verify(absl::StrCat(token, "AAAA"), kNow),
                "alg 'none'");
}

TEST_F(JwtVerifierTest, Hs256SignedWithThePublicKeyIsRefused) {
  // The classic confusion: the RSA public key (known to all) used as an
  // HMAC secret.
  std::string pem = PublicPem(rsa_);
  std::string token = HsToken(Claims(), pem);
  ExpectRefused(RsVerifier()->Verify(token, kNow), "alg 'HS256'");
  // With both kinds configured, HS256 is checked with the secret only.
  JwtVerifierOptions both;
  both.hs256_secret = kSecret;
  both.rs256_public_key_pem = pem;
  ExpectRefused(Verifier(both)->Verify(token, kNow), "signature is not valid");
  EXPECT_TRUE(Verifier(both)->Verify(RsToken(Claims()), kNow).ok());
  EXPECT_TRUE(Verifier(both)->Verify(HsToken(Claims()), kNow).ok());
}

TEST_F(JwtVerifierTest, Rs256TokenIsRefusedWhenOnlyHs256IsConfigured) {
  ExpectRefused(HsVerifier()->Verify(RsToken(Claims()), kNow), "alg 'RS256'");
}

TEST_F(JwtVerifierTest, ExpiryAndNotBeforeWithLeeway) {
  JwtVerifierOptions options;
  options.hs256_secret = kSecret;
  options.leeway = absl::Seconds(30);
  auto verifier = Verifier(options);
  auto token_expiring = [](absl::Time exp) {
    return HsToken(
        absl::StrCat(R"({"sub":"u","exp":)", absl::ToUnixSeconds(exp), "}"));
  };
  EXPECT_TRUE(
      verifier->Verify(token_expiring(kNow - absl::Seconds(20)), kNow).ok());
  ExpectRefused(
      verifier->Verify(token_expiring(kNow - absl::Seconds(40)), kNow),
      "expired");
  auto token_from = [](absl::Time nbf) {
    return HsToken(absl::StrCat(R"({"sub":"u","nbf":)",
                                absl::ToUnixSeconds(nbf), R"(,"exp":)",
                                absl::ToUnixSeconds(kNow) + 600, "}"));
  };
  EXPECT_TRUE(
      verifier->Verify(token_from(kNow + absl::Seconds(20)), kNow).ok());
  ExpectRefused(verifier->Verify(token_from(kNow + absl::Seconds(40)), kNow),
                "not valid yet");
  ExpectRefused(verifier->Verify(HsToken(R"({"sub":"u"})"), kNow), "no 'exp'");
  ExpectRefused(verifier->Verify(HsToken(R"({"sub":"u","exp":"soon"})"), kNow),
                "'exp' is not a number");
}

TEST_F(JwtVerifierTest, RememberedTokensStillExpire) {
  auto verifier = HsVerifier();
  std::string token = HsToken(
      absl::StrCat(R"({"sub":"u","nbf":)", absl::ToUnixSeconds(kNow) - 10,
                   R"(,"exp":)", absl::ToUnixSeconds(kNow) + 60, "}"));
  ASSERT_TRUE(verifier->Verify(token, kNow).ok());
  ASSERT_TRUE(verifier->Verify(token, kNow).ok());  // from the cache
  ExpectRefused(verifier->Verify(token, kNow + absl::Minutes(5)), "expired");
  ExpectRefused(verifier->Verify(token, kNow - absl::Minutes(5)),
                "not valid yet");
  // A token that failed is not remembered as good.
  ExpectRefused(verifier->Verify(token.substr(0, token.size() - 2), kNow),
                "signature");
}

TEST_F(JwtVerifierTest, ManyTokensKeepTheCacheBounded) {
  JwtVerifierOptions options;
  options.hs256_secret = kSecret;
  options.cache_size = 4;
  auto verifier = Verifier(options);
  std::vector<std::string> tokens;
  for (int i = 0; i < 20; ++i) {
    tokens.push_back(HsToken(Claims(absl::StrCat(R"("n":)", i))));
    ASSERT_TRUE(verifier->Verify(tokens.back(), kNow).ok()) << i;
  }
  // Dropped ones verify again from scratch.
  for (const std::string& token : tokens) {
    EXPECT_TRUE(verifier->Verify(token, kNow).ok());
  }
}

TEST_F(JwtVerifierTest, IssuerAndAudienceWhenConfigured) {
  JwtVerifierOptions options;
  options.hs256_secret = kSecret;
  options.issuer = "https://issuer.test";
  options.audience = "stubmesh";
  auto verifier = Verifier(options);
  EXPECT_TRUE(
      verifier
          ->Verify(HsToken(Claims(
                       R"("iss":"https://issuer.test","aud":"stubmesh")")),
                   kNow)
          .ok());
  EXPECT_TRUE(
      verifier
          ->Verify(
              HsToken(Claims(
                  R"("iss":"https://issuer.test","aud":["x","stubmesh"])")),
              kNow)
          .ok());
  ExpectRefused(verifier->Verify(
                    HsToken(Claims(R"("iss":"other","aud":"stubmesh")")), kNow),
                "issuer");
  ExpectRefused(verifier->Verify(HsToken(Claims(R"("aud":"stubmesh")")), kNow),
                "issuer");
  ExpectRefused(
      verifier->Verify(
          HsToken(Claims(R"("iss":"https://issuer.test","aud":["x"])")), kNow),
      "audience");
}

TEST_F(JwtVerifierTest, MalformedTokensSayWhatIsWrong) {
  auto verifier = HsVerifier();
  ExpectRefused(verifier->Verify("abc.def", kNow), "3 parts");
  ExpectRefused(verifier->Verify("", kNow), "3 parts");
  ExpectRefused(verifier->Verify("a.b.c.d", kNow), "3 parts");
  ExpectRefused(verifier->Verify("!!!.e30.AAAA", kNow),
                "header is not base64url");
  ExpectRefused(
      verifier->Verify(absl::StrCat(B64("not json"), ".e30.AAAA"), kNow),
      "header is not a JSON object");
  ExpectRefused(verifier->Verify(absl::StrCat(B64("{}"), ".e30.AAAA"), kNow),
                "no 'alg'");
  ExpectRefused(verifier->Verify(HsToken(Claims(), kSecret,
                                         R"({"alg":"HS256","crit":["exp"]})"),
                                 kNow),
                "crit");
  // A valid signature over a payload that is not JSON.
  std::string input = absl::StrCat(B64(R"({"alg":"HS256"})"), ".", B64("[1]"));
  ExpectRefused(verifier->Verify(
                    absl::StrCat(input, ".", B64(Hs256(input, kSecret))), kNow),
                "payload is not a JSON object");
}

TEST_F(JwtVerifierTest, CreateRefusesWeakOrWrongKeys) {
  JwtVerifierOptions none;
  EXPECT_EQ(JwtVerifier::Create(none).status().code(),
            absl::StatusCode::kInvalidArgument);
  JwtVerifierOptions short_secret;
  short_secret.hs256_secret = "short";
  EXPECT_EQ(JwtVerifier::Create(short_secret).status().code(),
            absl::StatusCode::kInvalidArgument);
  JwtVerifierOptions garbage;
  garbage.rs256_public_key_pem = "-----BEGIN PUBLIC KEY-----\nxx\n";
  EXPECT_EQ(JwtVerifier::Create(garbage).status().code(),
            absl::StatusCode::kInvalidArgument);
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  JwtVerifierOptions ec_key;
  ec_key.rs256_public_key_pem = PublicPem(ec);
  absl::Status s = JwtVerifier::Create(ec_key).status();
  EXPECT_NE(s.message().find("not an RSA key"), absl::string_view::npos) << s;
  EVP_PKEY_free(ec);
  EVP_PKEY* small = EVP_RSA_gen(1024);
  JwtVerifierOptions small_key;
  small_key.rs256_public_key_pem = PublicPem(small);
  s = JwtVerifier::Create(small_key).status();
  EXPECT_NE(s.message().find("1024 bits"), absl::string_view::npos) << s;
  EVP_PKEY_free(small);
}

}  // namespace
}  // namespace stubmesh::gateway
