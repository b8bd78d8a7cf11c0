#include "events/outbox.h"

#include <utility>

#include "google/protobuf/util/json_util.h"

namespace stubmesh::events {

std::string Outbox::CreateTableSql(storage::SqlDialect dialect) {
  if (dialect == storage::SqlDialect::kSqlite) {
    return R"sql(
      CREATE TABLE outbox (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        event_time_us INTEGER NOT NULL,
        event_json TEXT NOT NULL
      );
    )sql";
  }
  return R"sql(
    CREATE TABLE outbox (
      sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      event_time_us BIGINT NOT NULL,
      event_json TEXT NOT NULL
    );
  )sql";
}

absl::StatusOr<std::unique_ptr<Outbox>> Outbox::Create(
    storage::SqlDatabase* db) {
  absl::StatusOr<std::vector<std::unique_ptr<storage::SqlStatement>>>
      statements = db->PrepareStatements({
          "INSERT INTO outbox (event_time_us, event_json) VALUES ($1, $2) "
          "RETURNING sequence",
          "SELECT sequence, event_time_us, event_json FROM outbox "
          "WHERE sequence > $1 ORDER BY sequence LIMIT $2",
          "SELECT COALESCE(MAX(sequence), 0) FROM outbox",
      });
  if (!statements.ok()) return statements.status();
  return std::unique_ptr<Outbox>(new Outbox(*std::move(statements)));
}

absl::StatusOr<int64_t> Outbox::AppendMessage(
    const google::protobuf::Message& event, absl::Time time) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  auto printed =
      google::protobuf::util::MessageToJsonString(event, &json, options);
  if (!printed.ok()) {
    return absl::InternalError(absl::StrCat(
        "outbox: cannot encode ", event.GetTypeName(), ": ",
        printed.ToString()));
  }
  storage::SqlStatement& insert = *statements_[0];
  insert.Reset();
  insert.BindInt64(1, absl::ToUnixMicros(time));
  insert.BindText(2, json);
  absl::StatusOr<bool> row = insert.Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::InternalError("outbox: INSERT returned no sequence");
  int64_t sequence = insert.ColumnInt64(0);
  absl::Status s = insert.Run();
  insert.Reset();
  if (!s.ok()) return s;
  last_appended_ = sequence;
  return sequence;
}

absl::Status Outbox::ReadRecords(
    int64_t after, int limit,
    const std::function<absl::Status(int64_t, int64_t, const std::string&)>&
        each) {
  storage::SqlStatement& read = *statements_[1];
  read.Reset();
  read.BindInt64(1, after);
  read.BindInt64(2, limit);
  absl::Status result = absl::OkStatus();
  while (result.ok()) {
    absl::StatusOr<bool> row = read.Step();
    if (!row.ok()) {
      result = row.status();
      break;
    }
    if (!*row) break;
    result = each(read.ColumnInt64(0), read.ColumnInt64(1), read.ColumnText(2));
  }
  read.Reset();
  return result;
}

absl::StatusOr<int64_t> Outbox::LastSequence() {
  storage::SqlStatement& last = *statements_[2];
  last.Reset();
  absl::StatusOr<bool> row = last.Step();
  if (!row.ok()) return row.status();
  int64_t sequence = last.ColumnInt64(0);
  last.Reset();
  return sequence;
}

absl::Status Outbox::ParseMessage(const std::string& json,
                                  google::protobuf::Message* event) {
  auto parsed = google::protobuf::util::JsonStringToMessage(json, event);
  if (!parsed.ok()) return absl::InternalError(parsed.ToString());
  return absl::OkStatus();
}

}  // namespace stubmesh::events
