#include "events/outbox.h"

#include "gtest/gtest.h"
#include "storage/backend_test_databases.h"
#include "storage/database_url.h"
#include "stubmesh/user/v1/user_service.pb.h"

namespace stubmesh::events {
namespace {

using ::stubmesh::storage::SchemaMigrations;
using ::stubmesh::storage::SqlDatabase;
using ::stubmesh::storage::SqlDialect;
using ::stubmesh::user::v1::UserEvent;

const SchemaMigrations& Schema() {
  static const auto* schema = new SchemaMigrations{
      "outbox_test",
      {Outbox::CreateTableSql(SqlDialect::kSqlite)},
      {Outbox::CreateTableSql(SqlDialect::kPostgresql)}};
  return *schema;
}

class OutboxTest : public ::testing::TestWithParam<SqlDialect> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> url =
        storage::FreshDatabaseUrlForThisTest(GetParam());
    ASSERT_TRUE(url.ok()) << url.status();
    path_ = *url;
    Open();
  }

  void Open() {
    auto db = storage::OpenDatabase(path_, Schema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    auto outbox = Outbox::Create(db_.get());
    ASSERT_TRUE(outbox.ok()) << outbox.status();
    outbox_ = *std::move(outbox);
  }

  UserEvent Deleted(int64_t user_id) {
    UserEvent event;
    event.mutable_user_deleted()->set_user_id(user_id);
    return event;
  }

  std::string path_;
  std::unique_ptr<SqlDatabase> db_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_P(OutboxTest, AppendsInOrderAndReadsAfterAPosition) {
  absl::Time t = absl::FromUnixSeconds(1700000000);
  for (int64_t id = 1; id <= 5; ++id) {
    ASSERT_TRUE(db_->Transaction([&] {
                     return outbox_->Append(Deleted(id), t).status();
                   }).ok());
  }
  EXPECT_EQ(*outbox_->LastSequence(), 5);
  absl::StatusOr<std::vector<UserEvent>> events =
      outbox_->ReadAfter<UserEvent>(2, 2);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].sequence(), 3);
  EXPECT_EQ((*events)[0].user_deleted().user_id(), 3);
  EXPECT_EQ((*events)[0].event_time().seconds(), 1700000000);
  EXPECT_EQ((*events)[1].sequence(), 4);
  EXPECT_TRUE(outbox_->ReadAfter<UserEvent>(5, 10)->empty());
}

TEST_P(OutboxTest, SequenceAndTimeOfTheEventAreTheOutboxs) {
  UserEvent event = Deleted(9);
  event.set_sequence(1234);
  ASSERT_TRUE(db_->Transaction([&] {
                   return outbox_->Append(event, absl::Now()).status();
                 }).ok());
  EXPECT_EQ(outbox_->ReadAfter<UserEvent>(0, 10)->at(0).sequence(), 1);
}

TEST_P(OutboxTest, RolledBackChangeLeavesNoEvent) {
  absl::Status s = db_->Transaction([&]() -> absl::Status {
    absl::Status appended = outbox_->Append(Deleted(1), absl::Now()).status();
    if (!appended.ok()) return appended;
    return absl::AbortedError("the change failed after its event");
  });
  EXPECT_TRUE(absl::IsAborted(s));
  EXPECT_EQ(*outbox_->LastSequence(), 0);
  ASSERT_TRUE(db_->Transaction([&] {
                   return outbox_->Append(Deleted(2), absl::Now()).status();
                 }).ok());
  // AUTOINCREMENT never reuses a number, even one that was rolled back.
  EXPECT_GE(*outbox_->LastSequence(), 1);
  EXPECT_EQ(outbox_->ReadAfter<UserEvent>(0, 10)->size(), 1u);
}

TEST_P(OutboxTest, SurvivesReopening) {
  ASSERT_TRUE(db_->Transaction([&] {
                   return outbox_->Append(Deleted(1), absl::Now()).status();
                 }).ok());
  outbox_.reset();
  db_.reset();
  Open();
  EXPECT_EQ(outbox_->ReadAfter<UserEvent>(0, 10)->at(0).user_deleted().user_id(),
            1);
}

TEST_P(OutboxTest, CorruptRowIsDataLossNamingTheSequence) {
  ASSERT_TRUE(db_->Execute("INSERT INTO outbox (event_time_us, event_json) "
                           "VALUES (0, '{not json')")
                  .ok());
  absl::StatusOr<std::vector<UserEvent>> events =
      outbox_->ReadAfter<UserEvent>(0, 10);
  EXPECT_TRUE(absl::IsDataLoss(events.status())) << events.status();
  EXPECT_NE(events.status().message().find("outbox event 1"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, OutboxTest, storage::AllBackends(),
                         storage::BackendName);

}  // namespace
}  // namespace stubmesh::events
