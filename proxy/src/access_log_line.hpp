// The raw (not yet anonymised) access-log line. Internal: only AccessLogFormatter and its tests may
// see a raw line, which holds the client's address.
#pragma once

#include <string>

#include "veil/anonymiser/settings.hpp"
#include "veil/proxy/access_log_record.hpp"

namespace veil::proxy::detail {

// Appends `record` as one `combined` or `json` line (no newline) to `out`, escaped as nginx does
// (combined: `\xXX` for control bytes, `"`, `\`, DEL and non-ASCII; json: escape=json, with invalid
// UTF-8 replaced by U+FFFD so that every line parses).
void append_raw_access_line(const AccessRecord& record, anonymiser::LogFormat format,
                            std::string& out);

}  // namespace veil::proxy::detail
