#include "gateway/percent_encoding.h"

namespace stubmesh::gateway {

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(absl::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexDigitValue(in[i + 1]);
      int lo = HexDigitValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

void AppendPercentDecoded(absl::string_view raw, bool keep_encoded_slash,
                          std::string* out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      out->push_back(raw[i]);
      continue;
    }
    char decoded = static_cast<char>(HexDigitValue(raw[i + 1]) * 16 +
                                     HexDigitValue(raw[i + 2]));
    if (keep_encoded_slash && decoded == '/') {
      out->append(raw.data() + i, 3);
    } else {
      out->push_back(decoded);
    }
    i += 2;
  }
}

}  // namespace stubmesh::gateway
