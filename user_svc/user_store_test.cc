#include "user_svc/user_store.h"

#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "storage/backend_test_databases.h"

namespace stubmesh::user {
namespace {

User NewUser(const std::string& name, const std::string& email) {
  User user;
  user.set_name(name);
  user.set_email(email);
  return user;
}

class UserStoreTest : public ::testing::TestWithParam<storage::SqlDialect> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> url =
        storage::FreshDatabaseUrlForThisTest(GetParam());
    ASSERT_TRUE(url.ok()) << url.status();
    path_ = *url;
    auto store = UserStore::Create(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  std::string path_;  // the database's URL
  std::unique_ptr<UserStore> store_;
};

TEST_P(UserStoreTest, CreateThenGet) {
  absl::StatusOr<User> created =
      store_->Create(NewUser("Ada", "ada@example.com"), "");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->id(), 0);
  EXPECT_GT(created->create_time().seconds(), 0);
  EXPECT_EQ(created->update_time().seconds(), created->create_time().seconds());

  absl::StatusOr<User> got = store_->Get(created->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), created->SerializeAsString());
}

TEST_P(UserStoreTest, UnknownIdIsNotFound) {
  EXPECT_EQ(store_->Get(12345).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(UserStoreTest, DuplicateEmailIgnoringCaseIsAlreadyExists) {
  ASSERT_TRUE(store_->Create(NewUser("Ada", "ada@example.com"), "").ok());
  absl::StatusOr<User> again =
      store_->Create(NewUser("Ada 2", "ADA@Example.com"), "");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("user.email"), std::string::npos);
}

TEST_P(UserStoreTest, SameRequestIdReturnsTheFirstUser) {
  absl::StatusOr<User> first =
      store_->Create(NewUser("Ada", "ada@example.com"), "req-1");
  ASSERT_TRUE(first.ok());
  // Whatever the retry says, the first result comes back and no row is added.
  absl::StatusOr<User> retry =
      store_->Create(NewUser("Other", "other@example.com"), "req-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(store_->List({})->users.size(), 1u);
}

TEST_P(UserStoreTest, ConcurrentRetriesCreateOneRow) {
  std::vector<int64_t> ids(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<User> user =
          store_->Create(NewUser("Ada", "ada@example.com"), "same-request");
      ids[i] = user.ok() ? user->id() : -1;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_GT(ids[0], 0);
  EXPECT_EQ(store_->List({})->users.size(), 1u);
}

TEST_P(UserStoreTest, ListPagesInIdOrder) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(store_
                    ->Create(NewUser("u" + std::to_string(i),
                                     "u" + std::to_string(i) + "@example.com"),
                             "")
                    .ok());
  }
  storage::PageRequest page;
  page.limit = 3;
  std::vector<int64_t> seen;
  std::vector<size_t> sizes;
  while (true) {
    absl::StatusOr<UserPage> result = store_->List(page);
    ASSERT_TRUE(result.ok()) << result.status();
    sizes.push_back(result->users.size());
    for (const User& u : result->users) seen.push_back(u.id());
    if (!result->has_more) break;
    page.after_id = result->users.back().id();
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 1}));
  ASSERT_EQ(seen.size(), 7u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);
}

TEST_P(UserStoreTest, ExactlyFullPageHasNoMore) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store_
                    ->Create(NewUser("u", "u" + std::to_string(i) + "@e.com"),
                             "")
                    .ok());
  }
  storage::PageRequest page;
  page.limit = 3;
  absl::StatusOr<UserPage> result = store_->List(page);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->users.size(), 3u);
  EXPECT_FALSE(result->has_more);
}

TEST_P(UserStoreTest, UpdateChangesOnlyTheGivenFields) {
  User ada = *store_->Create(NewUser("Ada", "ada@example.com"), "");
  UserChanges changes;
  changes.name = "Ada Lovelace";
  absl::StatusOr<User> updated = store_->Update(ada.id(), changes);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->name(), "Ada Lovelace");
  EXPECT_EQ(updated->email(), "ada@example.com");
  EXPECT_EQ(store_->Get(ada.id())->name(), "Ada Lovelace");
  EXPECT_GE(updated->update_time().seconds(), ada.update_time().seconds());
}

TEST_P(UserStoreTest, UpdateToTakenEmailIsAlreadyExists) {
  ASSERT_TRUE(store_->Create(NewUser("Ada", "ada@example.com"), "").ok());
  User bob = *store_->Create(NewUser("Bob", "bob@example.com"), "");
  UserChanges changes;
  changes.email = "ada@example.com";
  EXPECT_EQ(store_->Update(bob.id(), changes).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->Get(bob.id())->email(), "bob@example.com");
}

TEST_P(UserStoreTest, DeleteIsSoftAndFreesTheEmail) {
  User ada = *store_->Create(NewUser("Ada", "ada@example.com"), "");
  ASSERT_TRUE(store_->Delete(ada.id()).ok());
  EXPECT_EQ(store_->Get(ada.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete(ada.id()).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->List({})->users.empty());
  UserChanges changes;
  changes.name = "x";
  EXPECT_EQ(store_->Update(ada.id(), changes).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<User> again =
      store_->Create(NewUser("Ada", "ada@example.com"), "");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(again->id(), ada.id());  // Ids are never reused.
}

TEST_P(UserStoreTest, RowsSurviveReopening) {
  User ada = *store_->Create(NewUser("Ada", "ada@example.com"), "r1");
  store_.reset();
  auto reopened = UserStore::Create(path_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Get(ada.id())->SerializeAsString(),
            ada.SerializeAsString());
  // The idempotency key is durable too.
  EXPECT_EQ((*reopened)->Create(NewUser("B", "b@e.com"), "r1")->id(), ada.id());
}

TEST_P(UserStoreTest, EveryCommittedChangeHasItsEventInCommitOrder) {
  User ada = *store_->Create(NewUser("Ada", "ada@example.com"), "r1");
  UserChanges rename;
  rename.name = "Ada L.";
  ASSERT_TRUE(store_->Update(ada.id(), rename).ok());
  ASSERT_TRUE(store_->Delete(ada.id()).ok());

  absl::StatusOr<std::vector<UserEvent>> events = store_->ReadEvents(0, 10);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].sequence(), 1);
  EXPECT_EQ((*events)[0].user_created().user().SerializeAsString(),
            ada.SerializeAsString());
  EXPECT_EQ((*events)[1].sequence(), 2);
  EXPECT_EQ((*events)[1].user_updated().user().name(), "Ada L.");
  EXPECT_EQ((*events)[2].sequence(), 3);
  EXPECT_EQ((*events)[2].user_deleted().user_id(), ada.id());
  EXPECT_GE((*events)[2].event_time().seconds(), ada.create_time().seconds());
}

TEST_P(UserStoreTest, WritesThatChangeNothingHaveNoEvent) {
  User ada = *store_->Create(NewUser("Ada", "ada@example.com"), "r1");
  // A retry, a refused duplicate, a refused update, a second delete.
  ASSERT_TRUE(store_->Create(NewUser("Ada", "ada@example.com"), "r1").ok());
  ASSERT_FALSE(store_->Create(NewUser("Eve", "ADA@example.com"), "r2").ok());
  User bob = *store_->Create(NewUser("Bob", "bob@example.com"), "");
  UserChanges steal;
  steal.email = "ada@example.com";
  ASSERT_FALSE(store_->Update(bob.id(), steal).ok());
  ASSERT_TRUE(store_->Delete(ada.id()).ok());
  ASSERT_FALSE(store_->Delete(ada.id()).ok());

  std::vector<UserEvent> events = *store_->ReadEvents(0, 100);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(events[0].has_user_created());
  EXPECT_TRUE(events[1].has_user_created());
  EXPECT_TRUE(events[2].has_user_deleted());
}

TEST_P(UserStoreTest, CommitWakesTheEventStreams) {
  std::thread deleter([&] {
    User ada = *store_->Create(NewUser("Ada", "ada@example.com"), "");
    ASSERT_TRUE(store_->Delete(ada.id()).ok());
  });
  // Returns once sequence 2 is committed; the test's timeout bounds it.
  while (store_->ReadEvents(1, 10)->empty()) {
    store_->commit_signal()->WaitBeyond(1, absl::Hours(1), nullptr);
  }
  deleter.join();
  EXPECT_TRUE(store_->ReadEvents(1, 10)->at(0).has_user_deleted());
}

INSTANTIATE_TEST_SUITE_P(Backends, UserStoreTest, storage::AllBackends(),
                         storage::BackendName);

}  // namespace
}  // namespace stubmesh::user
