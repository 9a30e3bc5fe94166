// Helpers shared by the HTML tokenizer and rewriter tests: a sink that records tokens as text, and
// runners that feed an input whole, split at one byte, or in fixed-size chunks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "veil/proxy/html_rewriter.hpp"
#include "veil/proxy/html_tokenizer.hpp"

namespace veil::proxy::test {

inline std::string describe(const HtmlTagToken& token) {
  std::string text = token.end_tag ? "</" : "<";
  text += token.name;
  for (const HtmlAttributeSpan& span : token.attributes) {
    text += ' ';
    for (char c : token.raw.substr(span.name_begin, span.name_end - span.name_begin)) {
      text += (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
    }
    if (span.has_value) {
      text += "=\"";
      decode_html_attribute_value(
          token.raw.substr(span.value_begin, span.value_end - span.value_begin), text);
      text += '"';
    }
  }
  if (token.self_closing) text += " /";
  text += '>';
  if (token.foreign) text += "[foreign]";
  return text;
}

struct RecordingSink : HtmlTokenSink {
  std::string bytes;  // everything handed on, in order: must equal the input
  std::vector<std::string> tokens;
  std::string_view input;  // to show comment and doctype text

  void on_bytes(std::string_view chunk) override { bytes += chunk; }
  void on_tag(const HtmlTagToken& token) override {
    bytes += token.raw;
    tokens.push_back(describe(token));
  }
  void on_comment(std::uint64_t begin, std::uint64_t end) override {
    tokens.push_back("<!--" + std::string(input.substr(begin, end - begin)) + "-->");
  }
  void on_doctype(std::uint64_t begin, std::uint64_t end) override {
    tokens.push_back("doctype:" + std::string(input.substr(begin, end - begin)));
  }
  void on_bailout(HtmlBailout reason) override {
    tokens.push_back("bailout:" + std::string(to_string(reason)));
  }
};

inline HtmlTokenizerOptions all_tags() {
  HtmlTokenizerOptions options;
  options.tags_of_interest = HtmlTagSet::all();
  return options;
}

// Writes `input` to `tokenizer` in pieces ending at `cuts` (ascending offsets), then the rest, and
// ends it.
inline void write_in_pieces(HtmlTokenizer& tokenizer, std::string_view input,
                            const std::vector<std::size_t>& cuts) {
  std::size_t begin = 0;
  for (std::size_t cut : cuts) {
    tokenizer.write(input.substr(begin, cut - begin));
    begin = cut;
  }
  tokenizer.write(input.substr(begin));
  tokenizer.end();
}

// Tokenizes `input` written in pieces ending at `cuts`.
inline RecordingSink tokenize(std::string_view input, const std::vector<std::size_t>& cuts,
                              HtmlTokenizerOptions options = all_tags()) {
  RecordingSink sink;
  sink.input = input;
  HtmlTokenizer tokenizer(sink, options);
  write_in_pieces(tokenizer, input, cuts);
  return sink;
}

inline std::vector<std::size_t> chunk_cuts(std::size_t size, std::size_t chunk) {
  std::vector<std::size_t> cuts;
  for (std::size_t at = chunk; at < size; at += chunk) cuts.push_back(at);
  return cuts;
}

// Output of a rewriter fed in pieces ending at `cuts`.
template <typename Setup>
std::string rewrite(std::string_view input, const std::vector<std::size_t>& cuts, Setup setup,
                    HtmlBailout* bailout = nullptr, HtmlRewriterOptions options = {}) {
  HtmlRewriter rewriter(options);
  setup(rewriter);
  std::string out;
  std::size_t begin = 0;
  for (std::size_t cut : cuts) {
    rewriter.write(input.substr(begin, cut - begin), out);
    begin = cut;
  }
  rewriter.write(input.substr(begin), out);
  rewriter.end(out);
  if (bailout != nullptr) *bailout = rewriter.bailout();
  return out;
}

}  // namespace veil::proxy::test
