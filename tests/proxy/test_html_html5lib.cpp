// Checks HtmlTokenizer against the html5lib tokenizer tests in tests/proxy/data/html5lib/.
//
// Compared, for every initial state a test lists, with the input whole, split at every byte and
// fed byte by byte: the sequence of StartTag (name, attributes after dropping duplicates, self-
// closing flag), EndTag (name), Comment (data) and DOCTYPE tokens.
// Out of scope, skipped explicitly:
// - Character tokens: the rewriter passes text through untouched and never decodes it;
// - parse errors (`ParseError`, `errors`): the tokenizer does not report them;
// - DOCTYPE name / public id / system id / correctness: only the token's place is compared;
// - tests expecting `ProcessingInstruction` tokens: a proposed spec change browsers do not ship.
#include <algorithm>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "html_entities.hpp"
#include "test_html_support.hpp"
#include "veil/proxy/html_tokenizer.hpp"

using namespace veil::proxy;
namespace json = boost::json;

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// `doubleEscaped` tests spell characters JSON cannot carry as a literal \uHHHH.
std::string unescape_double_escaped(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 5 < text.size() && text[i + 1] == 'u') {
      unsigned code = std::stoul(std::string(text.substr(i + 2, 4)), nullptr, 16);
      i += 5;
      if (code >= 0xD800 && code < 0xDC00 && i + 6 < text.size() && text[i + 1] == '\\' &&
          text[i + 2] == 'u') {
        const unsigned low = std::stoul(std::string(text.substr(i + 3, 4)), nullptr, 16);
        if (low >= 0xDC00 && low < 0xE000) {
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          i += 6;
        }
      }
      append_utf8(out, code);
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string lower_name(std::string_view raw) {
  std::string name;
  for (char c : raw) {
    if (c == '\0') {
      name += kReplacement;
    } else {
      name += (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
    }
  }
  return name;
}

// What the input stream preprocessing does to comment text: CR and CRLF as LF, NUL as U+FFFD.
std::string normalised_text(std::string_view raw) {
  std::string text;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r') {
      text += '\n';
      if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
    } else if (raw[i] == '\0') {
      text += kReplacement;
    } else {
      text += raw[i];
    }
  }
  return text;
}

std::string start_tag(std::string name, std::vector<std::pair<std::string, std::string>> attributes,
                      bool self_closing) {
  std::sort(attributes.begin(), attributes.end());
  std::string text = "StartTag " + name + " {";
  for (const auto& [key, value] : attributes) text += key + "=\"" + value + "\" ";
  text += self_closing ? "} /" : "}";
  return text;
}

struct Html5libSink : HtmlTokenSink {
  std::string_view input;
  std::vector<std::string> tokens;
  std::string passed_through;  // on_bytes and every tag's raw bytes, in order

  void on_bytes(std::string_view bytes) override { passed_through += bytes; }
  void on_tag(const HtmlTagToken& token) override {
    passed_through += token.raw;
    if (token.end_tag) {
      tokens.push_back("EndTag " + std::string(token.name));
      return;
    }
    std::vector<std::pair<std::string, std::string>> attributes;
    for (const HtmlAttributeSpan& span : token.attributes) {
      std::string name =
          lower_name(token.raw.substr(span.name_begin, span.name_end - span.name_begin));
      const bool duplicate = std::any_of(attributes.begin(), attributes.end(),
                                         [&](const auto& seen) { return seen.first == name; });
      if (duplicate) continue;  // the parser keeps the first
      std::string value;
      decode_html_attribute_value(
          token.raw.substr(span.value_begin, span.value_end - span.value_begin), value);
      attributes.emplace_back(std::move(name), std::move(value));
    }
    tokens.push_back(start_tag(std::string(token.name), std::move(attributes), token.self_closing));
  }
  void on_comment(std::uint64_t begin, std::uint64_t end) override {
    tokens.push_back("Comment " + normalised_text(input.substr(begin, end - begin)));
  }
  void on_doctype(std::uint64_t, std::uint64_t) override { tokens.push_back("DOCTYPE"); }
};

// Every kind a rewriter can ask for: all tags but `other`, so that the tokenizer's fast path (tags
// of no interest skipped without being tokenized) runs.
constexpr HtmlTagSet kNamedKinds{
    HtmlTag::iframe, HtmlTag::script,   HtmlTag::img,       HtmlTag::embed,    HtmlTag::object,
    HtmlTag::link,   HtmlTag::source,   HtmlTag::video,     HtmlTag::audio,    HtmlTag::body,
    HtmlTag::head,   HtmlTag::meta,     HtmlTag::style,     HtmlTag::textarea, HtmlTag::title,
    HtmlTag::xmp,    HtmlTag::noembed,  HtmlTag::noframes,  HtmlTag::noscript, HtmlTag::plaintext,
    HtmlTag::select, HtmlTag::frameset, HtmlTag::template_, HtmlTag::svg,      HtmlTag::math};

// The tokens a tokenizer asked for kNamedKinds only must deliver: all but the tags named `other`.
std::vector<std::string> without_other_kinds(const std::vector<std::string>& tokens) {
  std::vector<std::string> kept;
  for (const std::string& token : tokens) {
    std::string_view rest(token);
    const bool tag = rest.starts_with("StartTag ") || rest.starts_with("EndTag ");
    if (tag) {
      rest.remove_prefix(rest.find(' ') + 1);
      std::string_view name = rest.substr(0, rest.find(' '));
      // "image" is reported as an img start tag: the parser renames it.
      if (html_tag_from_name(name) == HtmlTag::other && name != "image") continue;
    }
    kept.push_back(token);
  }
  return kept;
}

std::vector<std::string> run_tokenizer(std::string_view input, HtmlTextState state,
                                       std::string_view last_start_tag,
                                       const std::vector<std::size_t>& cuts,
                                       HtmlTagSet interest = HtmlTagSet::all()) {
  Html5libSink sink;
  sink.input = input;
  HtmlTokenizerOptions options;
  options.tags_of_interest = interest;
  options.simulate_tree_builder = false;
  HtmlTokenizer tokenizer(sink, options);
  tokenizer.start_in(state, last_start_tag);
  test::write_in_pieces(tokenizer, input, cuts);
  if (sink.passed_through != input) return {"bytes not passed through unchanged"};
  return sink.tokens;
}

struct Expectation {
  std::vector<std::string> tokens;
  bool out_of_scope = false;
};

Expectation expected_tokens(const json::array& output, bool double_escaped) {
  const auto text = [&](const json::value& value) {
    const std::string raw(value.as_string());
    return double_escaped ? unescape_double_escaped(raw) : raw;
  };
  Expectation expectation;
  for (const json::value& item : output) {
    if (!item.is_array()) continue;  // "ParseError"
    const json::array& token = item.as_array();
    const std::string_view kind = token.at(0).as_string();
    if (kind == "StartTag") {
      std::vector<std::pair<std::string, std::string>> attributes;
      for (const auto& [key, value] : token.at(2).as_object()) {
        attributes.emplace_back(text(json::value(key)), text(value));
      }
      const bool self_closing = token.size() > 3 && token.at(3).as_bool();
      expectation.tokens.push_back(start_tag(text(token.at(1)), attributes, self_closing));
    } else if (kind == "EndTag") {
      expectation.tokens.push_back("EndTag " + text(token.at(1)));
    } else if (kind == "Comment") {
      expectation.tokens.push_back("Comment " + text(token.at(1)));
    } else if (kind == "DOCTYPE") {
      expectation.tokens.push_back("DOCTYPE");
    } else if (kind == "ProcessingInstruction") {
      expectation.out_of_scope = true;
    }
  }
  return expectation;
}

HtmlTextState text_state(std::string_view name) {
  if (name == "PLAINTEXT state") return HtmlTextState::plaintext;
  if (name == "RCDATA state") return HtmlTextState::rcdata;
  if (name == "RAWTEXT state") return HtmlTextState::rawtext;
  if (name == "Script data state") return HtmlTextState::script_data;
  if (name == "CDATA section state") return HtmlTextState::cdata;
  REQUIRE(name == "Data state");
  return HtmlTextState::data;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  REQUIRE(file);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

}  // namespace

TEST_CASE("html5lib tokenizer tests: tags, attributes and comments, at every split", "[html]") {
  const std::vector<std::string> files{"test1",    "test2", "test3",      "test4",
                                       "entities", "domjs", "escapeFlag", "contentModelFlags"};
  int passed = 0;
  int skipped = 0;
  std::vector<std::string> failures;
  for (const std::string& file : files) {
    const json::value root = json::parse(
        read_file(std::string(VEIL_SOURCE_DIR) + "/tests/proxy/data/html5lib/" + file + ".test"));
    int file_passed = 0;
    for (const json::value& test_value : root.at("tests").as_array()) {
      const json::object& test = test_value.as_object();
      const bool double_escaped =
          test.contains("doubleEscaped") && test.at("doubleEscaped").as_bool();
      std::string input(test.at("input").as_string());
      if (double_escaped) input = unescape_double_escaped(input);
      const Expectation expected = expected_tokens(test.at("output").as_array(), double_escaped);
      std::vector<std::string> states{"Data state"};
      if (test.contains("initialStates")) {
        states.clear();
        for (const auto& state : test.at("initialStates").as_array()) {
          states.emplace_back(state.as_string());
        }
      }
      const std::string last_start_tag =
          test.contains("lastStartTag") ? std::string(test.at("lastStartTag").as_string()) : "";
      for (const std::string& state : states) {
        if (expected.out_of_scope) {
          ++skipped;
          continue;
        }
        const std::string where =
            file + ": " + std::string(test.at("description").as_string()) + " [" + state + "]";
        const HtmlTextState initial = text_state(state);
        bool ok = run_tokenizer(input, initial, last_start_tag, {}) == expected.tokens;
        for (std::size_t cut = 0; ok && cut <= input.size(); ++cut) {
          ok = run_tokenizer(input, initial, last_start_tag, {cut}) == expected.tokens;
        }
        std::vector<std::size_t> every_byte;
        for (std::size_t cut = 1; cut < input.size(); ++cut) every_byte.push_back(cut);
        ok = ok && run_tokenizer(input, initial, last_start_tag, every_byte) == expected.tokens;
        // The same boundaries when only the named kinds are asked for (the rewriter's case).
        const auto named = without_other_kinds(expected.tokens);
        for (std::size_t cut = 0; ok && cut <= input.size(); ++cut) {
          ok = run_tokenizer(input, initial, last_start_tag, {cut}, kNamedKinds) == named;
        }
        ok = ok && run_tokenizer(input, initial, last_start_tag, every_byte, kNamedKinds) == named;
        // And the fast path ends each skipped tag where the full tokenizer does: a tag of interest
        // after the input is seen (or swallowed) alike.
        const std::string followed = input + "<img src=z>";
        const auto full = without_other_kinds(run_tokenizer(followed, initial, last_start_tag, {}));
        for (std::size_t cut = 0; ok && cut <= followed.size(); ++cut) {
          ok = run_tokenizer(followed, initial, last_start_tag, {cut}, kNamedKinds) == full;
        }
        if (ok) {
          ++passed;
          ++file_passed;
        } else {
          failures.push_back(where);
        }
      }
    }
    std::printf("html5lib %s.test: %d passed\n", file.c_str(), file_passed);
  }
  std::printf("html5lib: %d passed, %zu failed, %d skipped (ProcessingInstruction)\n", passed,
              failures.size(), skipped);
  for (const std::string& failure : failures) FAIL_CHECK(failure);
  CHECK(passed > 400);  // the corpus was read and run, not silently empty
}
