// Reading a YAML document with positioned diagnostics: the typed-value and mapping helpers the
// policy loader and the `veil policy test` case reader share. Internal to the policies library.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "veil/policies/loader.hpp"

namespace veil::policies {

// A YAML file as read from disk: its text, and the directory its relative paths (key files,
// certificates) resolve against. Nothing when the file cannot be read.
struct YamlFile {
  std::string text;
  std::string directory;
};
std::optional<YamlFile> read_yaml_file(const std::string& path);

// "a, b or c".
std::string quoted_list(const std::vector<std::string_view>& words, std::string_view last_joiner);
// "a mapping", "a list", "nothing", "a single value".
std::string_view kind_of(const YAML::Node& node);

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  // Diagnostics --------------------------------------------------------------------------------
  SourceLocation at(const YAML::Node& node) const {
    auto mark = node.Mark();
    if (mark.is_null()) return {file_, 0, 0};
    return {file_, mark.line + 1, mark.column + 1};
  }
  void report(Diagnostic::Severity severity, const SourceLocation& where, std::string message) {
    diagnostics_.push_back({severity, file_, where.line, where.column, std::move(message)});
  }
  void error(const YAML::Node& node, std::string message) {
    report(Diagnostic::Severity::error, at(node), std::move(message));
  }
  void warning(const YAML::Node& node, std::string message) {
    report(Diagnostic::Severity::warning, at(node), std::move(message));
  }

  // Typed values ---------------------------------------------------------------------------------
  std::optional<std::string> string(const YAML::Node& node, const std::string& what) {
    if (!node.IsScalar()) {
      error(node, "expected a string for '" + what + "', got " + std::string(kind_of(node)));
      return std::nullopt;
    }
    return node.Scalar();
  }

  std::optional<bool> boolean(const YAML::Node& node, const std::string& what) {
    auto text = string(node, what);
    if (!text) return std::nullopt;
    if (*text == "true") return true;
    if (*text == "false") return false;
    error(node, "expected true or false for '" + what + "', got '" + *text + "'");
    return std::nullopt;
  }

  std::optional<long long> integer(const YAML::Node& node, const std::string& what, long long low,
                                   long long high) {
    auto text = string(node, what);
    if (!text) return std::nullopt;
    auto size = parse_size(*text);
    bool plain = !text->empty() && std::all_of(text->begin(), text->end(), ::isdigit);
    if (!plain || !size || static_cast<long long>(*size) < low ||
        static_cast<long long>(*size) > high) {
      error(node, "expected a whole number from " + std::to_string(low) + " to " +
                      std::to_string(high) + " for '" + what + "', got '" + *text + "'");
      return std::nullopt;
    }
    return static_cast<long long>(*size);
  }

  std::optional<Duration> duration(const YAML::Node& node, const std::string& what) {
    auto text = string(node, what);
    if (!text) return std::nullopt;
    auto value = parse_duration(*text);
    if (!value) {
      error(node,
            "invalid duration '" + *text + "' for '" + what +
                "': expected a number and a unit (s, m, h, d, w, mo, y), e.g. 30m, 14d, 13mo");
    }
    return value;
  }

  std::optional<std::size_t> size(const YAML::Node& node, const std::string& what) {
    auto text = string(node, what);
    if (!text) return std::nullopt;
    auto value = parse_size(*text);
    if (!value) {
      error(node, "invalid size '" + *text + "' for '" + what +
                      "': expected bytes or a number with KiB, MiB or GiB, e.g. 8KiB, 1MiB");
    }
    return value;
  }

  // One of a fixed set of words, with a suggestion for a near miss.
  template <typename Value, std::size_t N>
  std::optional<Value> choice(const YAML::Node& node, const std::string& what,
                              const std::array<std::pair<std::string_view, Value>, N>& table) {
    auto text = string(node, what);
    if (!text) return std::nullopt;
    std::vector<std::string_view> names;
    for (const auto& [name, value] : table) {
      if (name == *text) return value;
      names.push_back(name);
    }
    error(node, "invalid value '" + *text + "' for '" + what + "': expected " +
                    quoted_list(names, " or ") + suggestion(*text, names));
    return std::nullopt;
  }

  std::optional<std::vector<std::pair<YAML::Node, std::string>>> string_list(
      const YAML::Node& node, const std::string& what) {
    if (!node.IsSequence()) {
      error(node, "expected a list for '" + what + "', got " + std::string(kind_of(node)));
      return std::nullopt;
    }
    std::vector<std::pair<YAML::Node, std::string>> items;
    for (std::size_t i = 0; i < node.size(); ++i) {
      if (auto text = string(node[i], what + "[" + std::to_string(i) + "]")) {
        items.emplace_back(node[i], *text);
      }
    }
    return items;
  }

  static std::string suggestion(std::string_view word, const std::vector<std::string_view>& names) {
    auto close = closest_match(word, names);
    return close ? "; did you mean '" + *close + "'?" : "";
  }

  const std::string& file() const { return file_; }
  std::vector<Diagnostic>& diagnostics() { return diagnostics_; }
  bool has_errors() const;
  // Sorts the diagnostics by position (they are found section by section).
  void sort_diagnostics();

 protected:
  std::string file_;
  std::vector<Diagnostic> diagnostics_;
};

// One YAML mapping of the policy: checks its keys against the known ones (unknown → error with a
// suggestion, duplicate → error) and hands out the values by key.
class Section {
 public:
  Section(YamlReader& reader, const YAML::Node& node, std::string path,
          std::vector<std::string_view> known_keys);
  bool valid() const { return valid_; }
  // The value of `key`, or an undefined node when absent.
  YAML::Node operator[](std::string_view key) const;
  bool has(std::string_view key) const { return (*this)[key].IsDefined(); }
  // "limits.body", or "version" at the top level.
  std::string path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

 private:
  bool valid_ = false;
  std::string path_;
  std::vector<std::pair<std::string, YAML::Node>> values_;
};

}  // namespace veil::policies
