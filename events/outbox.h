#ifndef STUBMESH_EVENTS_OUTBOX_H_
#define STUBMESH_EVENTS_OUTBOX_H_

// A service's transactional outbox: the table `outbox` in the service's own
// database, where the service appends the events of a change inside the
// transaction that makes the change, so a change and its event are never
// one without the other.
//
// Sequences come from the table's key (SQLite AUTOINCREMENT, PostgreSQL
// IDENTITY), assigned inside SqlDatabase::Transaction, which holds the
// schema's write lock for its whole body (storage/sql_database.h), so they
// are strictly increasing in commit order across every process sharing the
// database: a reader that has seen sequence N never later finds a new event
// below N. Events are stored as proto3 JSON, readable with any SQL shell.
//
// Event messages follow one shape: field `int64 sequence` and
// `google.protobuf.Timestamp event_time`, both filled by the outbox.
//
// Thread-safety: not thread-safe, like the SqlDatabase it uses; the
// owning store guards both with one mutex. Ownership: does not own `db`,
// which must outlive it.
//
// Example:
//   schema.sqlite.push_back(Outbox::CreateTableSql(SqlDialect::kSqlite));
//   absl::StatusOr<std::unique_ptr<Outbox>> outbox = Outbox::Create(db.get());
//   db->Transaction([&] { ...; return (*outbox)->Append(event, now).status(); });
//   absl::StatusOr<std::vector<UserEvent>> next =
//       (*outbox)->ReadAfter<UserEvent>(last_seen, 100);

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/time_util.h"
#include "storage/sql_database.h"

namespace stubmesh::events {

class Outbox {
 public:
  // The migration that creates the table; a store adds it to its lists.
  static std::string CreateTableSql(storage::SqlDialect dialect);

  static absl::StatusOr<std::unique_ptr<Outbox>> Create(
      storage::SqlDatabase* db);

  // Appends `event` (its sequence and event_time are ignored); must run
  // inside a transaction of the database. Returns the event's sequence.
  template <typename Event>
  absl::StatusOr<int64_t> Append(Event event, absl::Time time) {
    event.clear_sequence();
    event.clear_event_time();
    return AppendMessage(event, time);
  }

  // At most `limit` events with sequence > `after`, in sequence order.
  template <typename Event>
  absl::StatusOr<std::vector<Event>> ReadAfter(int64_t after, int limit) {
    std::vector<Event> events;
    absl::Status s = ReadRecords(
        after, limit,
        [&](int64_t sequence, int64_t time_us,
            const std::string& json) -> absl::Status {
          Event& event = events.emplace_back();
          absl::Status parsed = ParseMessage(json, &event);
          if (!parsed.ok()) {
            return absl::DataLossError(absl::StrCat(
                "outbox event ", sequence, ": ", parsed.message()));
          }
          event.set_sequence(sequence);
          *event.mutable_event_time() =
              google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
                  time_us);
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    return events;
  }

  // The highest sequence committed, 0 when there is none.
  absl::StatusOr<int64_t> LastSequence();

  // The sequence of this object's last successful Append (0 before any):
  // after the transaction commits, what to pass to CommitSignal::Committed.
  // (A rolled-back one only makes waiting streams look once more.)
  int64_t last_appended() const { return last_appended_; }

 private:
  explicit Outbox(std::vector<std::unique_ptr<storage::SqlStatement>> statements)
      : statements_(std::move(statements)) {}

  absl::StatusOr<int64_t> AppendMessage(const google::protobuf::Message& event,
                                        absl::Time time);
  absl::Status ReadRecords(
      int64_t after, int limit,
      const std::function<absl::Status(int64_t, int64_t, const std::string&)>&
          each);
  static absl::Status ParseMessage(const std::string& json,
                                   google::protobuf::Message* event);

  // insert, read_after, last_sequence
  std::vector<std::unique_ptr<storage::SqlStatement>> statements_;
  int64_t last_appended_ = 0;
};

}  // namespace stubmesh::events

#endif  // STUBMESH_EVENTS_OUTBOX_H_
