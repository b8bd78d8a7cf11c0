#include "mesh/mesh_tls.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "mesh/mesh.h"
#include "mesh/mesh_config_loader.h"

namespace stubmesh::mesh {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Two development CAs made by tools/dev-ca.sh (Debian's openssl), once for
// all tests: `dir_` with certificates for user_svc and order_svc, `other_`
// with one for user_svc from another CA.
class MeshTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = new std::string(absl::StrCat(tmp ? tmp : "/tmp", "/mesh_tls_ca"));
    other_ = new std::string(absl::StrCat(*dir_, "_other"));
    for (const std::string* d : {dir_, other_}) {
      std::string command = absl::StrCat("rm -rf ", *d, " && tools/dev-ca.sh ",
                                         *d, " user_svc order_svc >/dev/null");
      ASSERT_EQ(std::system(command.c_str()), 0) << command;
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete other_;
  }

  static std::string In(const std::string& dir, const std::string& name) {
    return absl::StrCat(dir, "/", name);
  }

  static v1::MeshConfig WithCa(const std::string& ca_file) {
    v1::MeshConfig config;
    config.mutable_tls()->set_ca_file(ca_file);
    return config;
  }

  static std::string Write(const std::string& name, const std::string& text) {
    std::string path = In(*dir_, name);
    std::ofstream(path) << text;
    return path;
  }

  static std::string* dir_;
  static std::string* other_;
};

std::string* MeshTlsTest::dir_ = nullptr;
std::string* MeshTlsTest::other_ = nullptr;

TEST_F(MeshTlsTest, PlaintextWithoutTlsOrFiles) {
  absl::StatusOr<std::optional<MeshTlsFiles>> tls =
      CheckMeshTls(v1::MeshConfig(), "", "");
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_FALSE(tls->has_value());
}

TEST_F(MeshTlsTest, GoodFilesGiveTheIdentity) {
  absl::StatusOr<std::optional<MeshTlsFiles>> tls =
      CheckMeshTls(WithCa(In(*dir_, "ca.crt")), In(*dir_, "user_svc.crt"),
                   In(*dir_, "user_svc.key"));
  ASSERT_TRUE(tls.ok()) << tls.status();
  ASSERT_TRUE(tls->has_value());
  EXPECT_THAT((*tls)->identities,
              ElementsAre("spiffe://stubmesh.local/svc/user_svc"));
  EXPECT_EQ((*tls)->refresh_interval, absl::Seconds(60));
}

// Each refusal names the field or flag, and the path when there is one.
TEST_F(MeshTlsTest, RefusalsNameTheFieldAndPath) {
  const std::string ca = In(*dir_, "ca.crt");
  const std::string cert = In(*dir_, "user_svc.crt");
  const std::string key = In(*dir_, "user_svc.key");
  const std::string garbage = Write("garbage.pem", "not PEM at all\n");
  struct Case {
    v1::MeshConfig config;
    std::string cert, key;
    std::string want;
  };
  const Case kCases[] = {
      {v1::MeshConfig(), cert, key, "--tls_cert_file/--tls_key_file given"},
      {WithCa(ca), "", key, "--tls_cert_file: is required"},
      {WithCa(ca), cert, "", "--tls_key_file: is required"},
      {WithCa("/nonexistent/ca.crt"), cert, key,
       "tls.ca_file: /nonexistent/ca.crt: cannot be read"},
      {WithCa(garbage), cert, key,
       absl::StrCat("tls.ca_file: ", garbage, ": holds no PEM certificate")},
      {WithCa(ca), garbage, key,
       absl::StrCat("--tls_cert_file: ", garbage,
                    ": holds no PEM certificate")},
      {WithCa(ca), cert, garbage,
       absl::StrCat("--tls_key_file: ", garbage, ": holds no PEM private key")},
      {WithCa(ca), cert, In(*dir_, "order_svc.key"),
       absl::StrCat("--tls_key_file: ", In(*dir_, "order_svc.key"),
                    ": does not match the certificate")},
      {WithCa(ca), In(*other_, "user_svc.crt"), In(*other_, "user_svc.key"),
       absl::StrCat("--tls_cert_file: ", In(*other_, "user_svc.crt"),
                    ": is not accepted by tls.ca_file")},
  };
  for (const Case& c : kCases) {
    absl::StatusOr<std::optional<MeshTlsFiles>> tls =
        CheckMeshTls(c.config, c.cert, c.key);
    EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument)
        << c.want;
    EXPECT_THAT(tls.status().message(), HasSubstr(c.want));
  }
}

TEST(IdentityMatchesTest, ExactPrefixAndAny) {
  EXPECT_TRUE(IdentityMatches("spiffe://d/svc/a", "spiffe://d/svc/a"));
  EXPECT_FALSE(IdentityMatches("spiffe://d/svc/a", "spiffe://d/svc/ab"));
  EXPECT_TRUE(IdentityMatches("spiffe://d/svc/*", "spiffe://d/svc/ab"));
  EXPECT_FALSE(IdentityMatches("spiffe://d/svc/*", "spiffe://e/svc/ab"));
  EXPECT_TRUE(IdentityMatches("*", "anything"));
}

TEST(TlsServerNameOverrideTest, FirstHostOfAddressLists) {
  EXPECT_EQ(TlsServerNameOverride("ipv4:127.0.0.1:50051,127.0.0.2:50061"),
            "127.0.0.1");
  EXPECT_EQ(TlsServerNameOverride("ipv6:[::1]:50051,[::1]:50061"), "::1");
  EXPECT_EQ(TlsServerNameOverride("127.0.0.1:50051"), "");
  EXPECT_EQ(TlsServerNameOverride("dns:///users.internal:50051"), "");
}

TEST(CertificateCoversAuthorityTest, EveryHostMustBeCovered) {
  const std::vector<std::string> dns = {"localhost", "*.users.internal"};
  const std::vector<std::string> ips = {"127.0.0.1", "::1"};
  EXPECT_TRUE(CertificateCoversAuthority("127.0.0.1:50051", dns, ips));
  EXPECT_TRUE(
      CertificateCoversAuthority("127.0.0.1:50051,127.0.0.1:50061", dns, ips));
  EXPECT_TRUE(CertificateCoversAuthority("[::1]:50051", dns, ips));
  EXPECT_TRUE(CertificateCoversAuthority("[0:0::1]:50051", dns, ips));
  EXPECT_TRUE(CertificateCoversAuthority("LocalHost:1", dns, ips));
  EXPECT_TRUE(CertificateCoversAuthority("a.users.internal:1", dns, ips));
  EXPECT_FALSE(CertificateCoversAuthority("a.b.users.internal:1", dns, ips));
  EXPECT_FALSE(CertificateCoversAuthority("127.0.0.1:1,10.0.0.1:1", dns, ips));
  EXPECT_FALSE(CertificateCoversAuthority("example.com:443", dns, ips));
  EXPECT_FALSE(CertificateCoversAuthority("", dns, ips));
}

// Answers every method UNIMPLEMENTED.
class UnimplementedService : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext*) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      Reactor() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "")); }
      void OnDone() override { delete this; }
    };
    return new Reactor();
  }
};

// A real handshake on loopback between MeshServerCredentials and
// MeshChannelCredentials; a method nobody serves answers UNIMPLEMENTED once
// the handshake passed, UNAVAILABLE when it failed.
class MeshTlsHandshakeTest : public MeshTlsTest {
 protected:
  void SetUp() override {
    absl::StatusOr<std::optional<MeshTlsFiles>> server_files =
        CheckMeshTls(WithCa(In(*dir_, "ca.crt")), In(*dir_, "user_svc.crt"),
                     In(*dir_, "user_svc.key"));
    ASSERT_TRUE(server_files.ok()) << server_files.status();
    grpc::ServerBuilder builder;
    builder.RegisterCallbackGenericService(&unimplemented_);
    builder.AddListeningPort(
        "127.0.0.1:0",
        MeshServerCredentials(NewCertificateProvider(**server_files)), &port_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  grpc::StatusCode Call(const std::string& ca_dir, const std::string& target,
                        const v1::ServiceMesh& service) {
    absl::StatusOr<std::optional<MeshTlsFiles>> files =
        CheckMeshTls(WithCa(In(ca_dir, "ca.crt")), In(ca_dir, "order_svc.crt"),
                     In(ca_dir, "order_svc.key"));
    EXPECT_TRUE(files.ok()) << files.status();
    auto channel = grpc::CreateChannel(
        target,
        MeshChannelCredentials(NewCertificateProvider(**files), service));
    grpc::GenericStub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    grpc::Status status;
    absl::Notification done;
    stub.UnaryCall(&context, "/a.B/C", grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    return status.error_code();
  }

  // The same call on a Mesh channel to a service at `target`, as every
  // process makes it.
  grpc::StatusCode CallThroughMesh(const std::string& target) {
    v1::MeshConfig config = WithCa(In(*dir_, "ca.crt"));
    v1::ServiceMesh& service = (*config.mutable_services())["a.B"];
    service.set_target(target);
    service.mutable_health_check()->set_disabled(true);
    absl::StatusOr<std::optional<MeshTlsFiles>> files = CheckMeshTls(
        config, In(*dir_, "order_svc.crt"), In(*dir_, "order_svc.key"));
    EXPECT_TRUE(files.ok()) << files.status();
    MeshOptions options;
    options.tls = *files;
    absl::StatusOr<std::unique_ptr<Mesh>> mesh = Mesh::Create(config, options);
    EXPECT_TRUE(mesh.ok()) << mesh.status();
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        (*mesh)->Channel("a.B");
    EXPECT_TRUE(channel.ok()) << channel.status();
    grpc::GenericStub stub(*channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    grpc::Status status;
    absl::Notification done;
    stub.UnaryCall(&context, "/a.B/C", grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    return status.error_code();
  }

  std::string Address() const { return absl::StrCat("127.0.0.1:", port_); }

  int port_ = 0;
  UnimplementedService unimplemented_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(MeshTlsHandshakeTest, SameCaHandshakes) {
  EXPECT_EQ(Call(*dir_, Address(), v1::ServiceMesh()),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(Call(*dir_, absl::StrCat("ipv4:", Address(), ",", Address()),
                 v1::ServiceMesh()),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(Call(*dir_, absl::StrCat("localhost:", port_), v1::ServiceMesh()),
            grpc::StatusCode::UNIMPLEMENTED);
}

// An address list is checked host by host: 127.0.0.2 is not in the
// server's certificate, so no server of that list is accepted.
TEST_F(MeshTlsHandshakeTest, MeshChannelsCheckEveryHostOfAnAddressList) {
  EXPECT_EQ(CallThroughMesh(absl::StrCat("ipv4:", Address(), ",", Address())),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(
      CallThroughMesh(absl::StrCat("ipv4:", Address(), ",127.0.0.2:", port_)),
      grpc::StatusCode::UNAVAILABLE);
}

TEST_F(MeshTlsHandshakeTest, ServerIdentityIsChecked) {
  v1::ServiceMesh service;
  service.add_server_identities("spiffe://stubmesh.local/svc/user_svc");
  EXPECT_EQ(Call(*dir_, Address(), service), grpc::StatusCode::UNIMPLEMENTED);
  v1::ServiceMesh other;
  other.add_server_identities("spiffe://stubmesh.local/svc/billing");
  EXPECT_EQ(Call(*dir_, Address(), other), grpc::StatusCode::UNAVAILABLE);
}

// The client trusts only the other CA, and presents its certificate: the
// handshake fails.
TEST_F(MeshTlsHandshakeTest, OtherCaFails) {
  EXPECT_EQ(Call(*other_, Address(), v1::ServiceMesh()),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(MeshTlsHandshakeTest, PlaintextClientIsRefused) {
  auto channel =
      grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials());
  EXPECT_FALSE(channel->WaitForConnected(std::chrono::system_clock::now() +
                                         std::chrono::seconds(2)));
}

TEST_F(MeshTlsTest, MeshNeedsTlsFilesExactlyWithTls) {
  v1::MeshConfig config = WithCa(In(*dir_, "ca.crt"));
  EXPECT_THAT(Mesh::Create(config, {}).status().message(),
              HasSubstr("--tls_cert_file"));
  absl::StatusOr<std::optional<MeshTlsFiles>> files = CheckMeshTls(
      config, In(*dir_, "user_svc.crt"), In(*dir_, "user_svc.key"));
  ASSERT_TRUE(files.ok()) << files.status();
  MeshOptions options;
  options.tls = *files;
  absl::StatusOr<std::unique_ptr<Mesh>> mesh = Mesh::Create(config, options);
  ASSERT_TRUE(mesh.ok()) << mesh.status();
  // The tls section is fixed for the process's life.
  v1::MeshConfig changed = config;
  changed.mutable_tls()->set_ca_file(In(*other_, "ca.crt"));
  EXPECT_EQ((*mesh)->Update(changed).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*mesh)->Update(v1::MeshConfig()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*mesh)->Update(config).ok());
}

}  // namespace
}  // namespace stubmesh::mesh
