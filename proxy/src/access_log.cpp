#include "veil/proxy/access_log.hpp"

#include <algorithm>
#include <stdexcept>

#include "access_log_line.hpp"

namespace veil::proxy {
namespace {

anonymiser::LogFormat checked_format(anonymiser::LogFormat format) {
  if (format != anonymiser::LogFormat::combined && format != anonymiser::LogFormat::json) {
    throw std::invalid_argument("access log: format must be combined or json, not " +
                                std::string(anonymiser::to_string(format)));
  }
  return format;
}

}  // namespace

AccessLogFormatter::AccessLogFormatter(const anonymiser::AnonymiseSettings& settings,
                                       anonymiser::LogFormat format,
                                       const anonymiser::MasterKey& key)
    : format_(checked_format(format)), anonymiser_(settings, format_, key) {}

void AccessLogFormatter::format(const AccessRecord& record, std::string& out) {
  // Room for the worst case (every byte escaped to six) up front, so that
  // appending never reallocates and leaves a copy of the raw line behind in
  // freed memory.
  const std::size_t fields = record.client_address.size() + record.method.size() +
                             record.target.size() + record.protocol.size() +
                             record.referrer.size() + record.user_agent.size() +
                             record.forwarded_for.size() + record.upstream.size();
  raw_.reserve(6 * fields + 320);
  detail::append_raw_access_line(record, format_, raw_);
  anonymiser_.anonymise_line(raw_, out);
  // The raw line held the client's address: overwrite it rather than leave it
  // in the heap.
  std::fill(raw_.begin(), raw_.end(), '\0');
  raw_.clear();
}

}  // namespace veil::proxy
