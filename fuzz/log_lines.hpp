// Shared by the fuzz targets that read their input as a log.
#pragma once

#include <cstddef>
#include <string_view>

// Calls visit(line) for each line of `log`, without its "\n" or a "\r" before it: as the pipeline
// hands lines to the anonymiser.
template <typename Visit>
void for_each_line(std::string_view log, Visit&& visit) {
  std::size_t pos = 0;
  while (pos < log.size()) {
    std::size_t end = log.find('\n', pos);
    if (end == std::string_view::npos) end = log.size();
    std::string_view line = log.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    visit(line);
  }
}
