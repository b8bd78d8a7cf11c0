#include "events/outbox.h"

#include "gtest/gtest.h"
#include "storage/fresh_db_path.h"
#include "stubmesh/user/v1/user_service.pb.h"

namespace stubmesh::events {
namespace {

using ::stubmesh::storage::FreshDbPath;
using ::stubmesh::storage::SqliteDatabase;
using ::stubmesh::user::v1::UserEvent;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = FreshDbPath("outbox_test.db");
    auto db = SqliteDatabase::Create(
        path_, {"CREATE TABLE things (id INTEGER PRIMARY KEY)",
                Outbox::kCreateTableSql});
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
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(OutboxTest, AppendsInOrderAndReadsAfterAPosition) {
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

TEST_F(OutboxTest, SequenceAndTimeOfTheEventAreTheOutboxs) {
  UserEvent event = Deleted(9);
  event.set_sequence(1234);
  ASSERT_TRUE(db_->Transaction([&] {
                   return outbox_->Append(event, absl::Now()).status();
                 }).ok());
  EXPECT_EQ(outbox_->ReadAfter<UserEvent>(0, 10)->at(0).sequence(), 1);
}

TEST_F(OutboxTest, RolledBackChangeLeavesNoEvent) {
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

TEST_F(OutboxTest, SurvivesReopening) {
  ASSERT_TRUE(db_->Transaction([&] {
                   return outbox_->Append(Deleted(1), absl::Now()).status();
                 }).ok());
  outbox_.reset();
  db_.reset();
  auto db = SqliteDatabase::Create(
      path_, {"CREATE TABLE things (id INTEGER PRIMARY KEY)",
              Outbox::kCreateTableSql});
  ASSERT_TRUE(db.ok());
  auto outbox = Outbox::Create(db->get());
  ASSERT_TRUE(outbox.ok());
  EXPECT_EQ((*outbox)->ReadAfter<UserEvent>(0, 10)->at(0).user_deleted().user_id(),
            1);
}

TEST_F(OutboxTest, CorruptRowIsDataLossNamingTheSequence) {
  ASSERT_TRUE(db_->Execute("INSERT INTO outbox (event_time_us, event_json) "
                           "VALUES (0, '{not json')")
                  .ok());
  absl::StatusOr<std::vector<UserEvent>> events =
      outbox_->ReadAfter<UserEvent>(0, 10);
  EXPECT_TRUE(absl::IsDataLoss(events.status())) << events.status();
  EXPECT_NE(events.status().message().find("outbox event 1"),
            std::string::npos);
}

}  // namespace
}  // namespace stubmesh::events
