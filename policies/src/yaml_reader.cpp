#include "yaml_reader.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace veil::policies {

std::optional<YamlFile> read_yaml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  auto slash = path.rfind('/');
  return YamlFile{std::move(text).str(),
                  slash == std::string::npos ? "" : path.substr(0, slash == 0 ? 1 : slash)};
}

std::string quoted_list(const std::vector<std::string_view>& words, std::string_view last_joiner) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += (i + 1 == words.size()) ? std::string(last_joiner) : ", ";
    out += words[i];
  }
  return out;
}

std::string_view kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a single value";
  }
}

bool YamlReader::has_errors() const {
  return std::any_of(diagnostics_.begin(), diagnostics_.end(), [](const Diagnostic& diagnostic) {
    return diagnostic.severity == Diagnostic::Severity::error;
  });
}

void YamlReader::sort_diagnostics() {
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(), [](const auto& a, const auto& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
}

Section::Section(YamlReader& reader, const YAML::Node& node, std::string path,
                 std::vector<std::string_view> known_keys)
    : path_(std::move(path)) {
  if (!node.IsMap()) {
    reader.error(node, "expected a mapping for '" + (path_.empty() ? "policy" : path_) + "', got " +
                           std::string(kind_of(node)));
    return;
  }
  valid_ = true;
  for (const auto& pair : node) {
    const YAML::Node key = pair.first;  // copies: the iterator's pair is a temporary
    if (!key.IsScalar()) {
      reader.error(key, "expected a plain key in '" + path_ + "'");
      continue;
    }
    const std::string& name = key.Scalar();
    auto duplicate = std::find_if(values_.begin(), values_.end(),
                                  [&](const auto& entry) { return entry.first == name; });
    if (duplicate != values_.end()) {
      reader.error(key, "duplicate key '" + name + "' (first at line " +
                            std::to_string(reader.at(duplicate->second).line) + ")");
      continue;
    }
    if (std::find(known_keys.begin(), known_keys.end(), name) == known_keys.end()) {
      reader.error(key, "unknown key '" + name + "'" +
                            (path_.empty() ? "" : " in '" + path_ + "'") +
                            YamlReader::suggestion(name, known_keys));
      continue;
    }
    values_.emplace_back(name, pair.second);
  }
}

YAML::Node Section::operator[](std::string_view key) const {
  for (const auto& [name, value] : values_) {
    if (name == key) return value;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

}  // namespace veil::policies
