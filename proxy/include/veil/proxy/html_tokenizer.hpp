// A streaming HTML tokenizer for rewriting: it finds tag, comment and text boundaries in input fed
// in arbitrary chunks, and hands every input byte on exactly once, untouched.
//
// Contract (what a rewriter relies on):
// - Every input byte reaches the sink exactly once and in order: either in `on_bytes`, or as the
//   `raw` of a tag of interest delivered to `on_tag`. Concatenating them gives the input back.
// - Only tags whose kind is in the tags of interest are held and delivered (start and end tags),
//   with their attributes split into spans; every other byte streams through as soon as the chunk
//   ends. Bytes are carried over between chunks only for a tag that is still open (at most
//   `max_construct_bytes`).
// - Tokenization follows the WHATWG tokenizer states that decide boundaries: tags and attributes
//   (quoted, unquoted, any case), comments (incl. `<!-->` and `--!>`), DOCTYPE, bogus comments,
//   CDATA in SVG/MathML, and the RCDATA / RAWTEXT / script data (with its escaped states) /
//   PLAINTEXT text states that `title`, `textarea`, `style`, `xmp`, `iframe`, `noembed`,
//   `noframes`, `noscript` (scripting on, as in browsers), `script` and `plaintext` switch to.
// - The tree-builder decisions that pick those text states are simulated without a stack of
//   elements, like lol-html: only SVG/MathML nesting is tracked. Where that is ambiguous (a
//   text-switching tag inside `<select>` or after `<frameset>`, `annotation-xml`, `<font>` or CDATA
//   at an SVG/MathML integration point) or a limit is hit, the tokenizer bails out: it reports
//   `on_bailout` once and from then on passes every byte to `on_bytes` unexamined.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace veil::proxy {

// The element kinds a rewriter may ask for, and the ones that steer the tokenizer.
enum class HtmlTag : std::uint8_t {
  other,
  // kinds a rewriter acts on
  iframe,
  script,
  img,  // also `<image>`, which the HTML parser renames to img
  embed,
  object,
  link,
  source,
  video,
  audio,
  body,
  head,
  meta,
  // kinds that switch the text state or make it ambiguous
  style,
  textarea,
  title,
  xmp,
  noembed,
  noframes,
  noscript,
  plaintext,
  select,
  frameset,
  template_,
  svg,
  math,
};

// The kind for a lower-case tag name (`other` for every name not listed in HtmlTag).
HtmlTag html_tag_from_name(std::string_view lower_case_name);

class HtmlTagSet {
 public:
  constexpr HtmlTagSet() = default;
  constexpr HtmlTagSet(std::initializer_list<HtmlTag> tags) {
    for (HtmlTag tag : tags) bits_ |= bit(tag);
  }
  // Every tag, including `other` (the html5lib conformance harness uses this).
  static constexpr HtmlTagSet all() {
    HtmlTagSet set;
    set.bits_ = ~std::uint32_t{0};
    return set;
  }
  constexpr bool contains(HtmlTag tag) const { return (bits_ & bit(tag)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr HtmlTagSet& operator|=(HtmlTagSet other) {
    bits_ |= other.bits_;
    return *this;
  }

 private:
  static constexpr std::uint32_t bit(HtmlTag tag) {
    return std::uint32_t{1} << static_cast<unsigned>(tag);
  }
  std::uint32_t bits_ = 0;
};

enum class HtmlBailout : std::uint8_t {
  none,
  construct_too_large,        // one tag (or buffered element) exceeded max_construct_bytes
  document_too_large,         // the response exceeded max_document_bytes
  ambiguous_select,           // text-switching tag inside <select>
  ambiguous_frameset,         // text-switching tag after <frameset>
  ambiguous_foreign_content,  // SVG/MathML construct whose parsing depends on the tree
};
std::string_view to_string(HtmlBailout reason);

// One attribute of a delivered tag; offsets are into HtmlTagToken::raw.
struct HtmlAttributeSpan {
  std::uint32_t name_begin;
  std::uint32_t name_end;
  std::uint32_t value_begin;  // == value_end when there is no value
  std::uint32_t value_end;    // excludes the closing quote
  char quote;                 // '"', '\'' or 0 (unquoted or no value)
  bool has_value;
  // End of the whole attribute, closing quote included.
  std::uint32_t end() const { return value_end + (quote != 0 ? 1 : 0); }
};

struct HtmlTagToken {
  HtmlTag tag;
  bool end_tag;
  bool self_closing;      // `/>` (an HTML start tag ignores it, e.g. `<script/>` still has content)
  bool foreign;           // an SVG/MathML element (a start tag in foreign content)
  std::string_view name;  // ASCII lower case, NUL as U+FFFD
  std::string_view raw;   // original bytes from '<' to '>'
  std::uint32_t name_end;                         // offset in raw just after the name
  std::span<const HtmlAttributeSpan> attributes;  // source order, duplicates included
  std::uint64_t offset;                           // of raw[0] in the whole input
};

class HtmlTokenSink {
 public:
  virtual ~HtmlTokenSink() = default;
  virtual void on_bytes(std::string_view bytes) = 0;
  virtual void on_tag(const HtmlTagToken& tag) = 0;
  // Boundaries, as offsets in the whole input, for conformance checks; the bytes themselves go
  // through on_bytes. `data_*` is the comment text (bogus comments included).
  virtual void on_comment(std::uint64_t data_begin, std::uint64_t data_end) {
    (void)data_begin;
    (void)data_end;
  }
  virtual void on_doctype(std::uint64_t begin, std::uint64_t end) {
    (void)begin;
    (void)end;
  }
  virtual void on_bailout(HtmlBailout reason) { (void)reason; }
};

struct HtmlTokenizerOptions {
  HtmlTagSet tags_of_interest;
  std::size_t max_construct_bytes = 64 * 1024;
  std::uint64_t max_document_bytes = 64ull * 1024 * 1024;
  // Off: a pure tokenizer (no text-state switches after start tags), as html5lib's tests expect.
  bool simulate_tree_builder = true;
};

// The tokenizer states a fragment can start in (html5lib's `initialStates`).
enum class HtmlTextState : std::uint8_t { data, rcdata, rawtext, script_data, plaintext, cdata };

class HtmlTokenizer {
 public:
  HtmlTokenizer(HtmlTokenSink& sink, HtmlTokenizerOptions options);

  // Both only before the first write.
  void set_tags_of_interest(HtmlTagSet tags) { options_.tags_of_interest = tags; }
  void start_in(HtmlTextState state, std::string_view last_start_tag);

  void write(std::string_view chunk);
  void end();  // flushes everything still held; the sink sees no more calls

  HtmlBailout bailout() const { return bailout_; }

 private:
  enum class State : std::uint8_t;
  // An open <svg>/<math> root or an integration point inside one (content parsed as HTML again).
  struct Frame {
    std::string name;
    HtmlTag root;  // svg or math
    bool integration_point;
  };

  // Where resume_carried_tag left the window.
  enum class Resumed : std::uint8_t { in_chunk, still_held, bailed_out };

  Resumed resume_carried_tag(std::string_view chunk);
  void set_window(const char* data, std::size_t size);
  std::size_t find_name_end(std::size_t pos, std::uint8_t ends) const;
  void run();
  template <bool Record>
  std::size_t scan_tag(std::size_t pos);
  std::size_t skip_plain_tag(std::size_t less_than);
  void bail_out(HtmlBailout reason);
  void flush_bytes(std::size_t up_to);
  void begin_hold(std::size_t at) { hold_ = at; }
  void release_hold() { hold_ = npos; }
  void name_ended(std::size_t at);
  void begin_attribute(std::size_t at);
  void finish_tag(std::size_t tag_end);
  State start_tag_text_state(bool& foreign);
  void end_tag_seen();
  void finish_markup_declaration(std::size_t at);
  std::uint32_t relative(std::size_t at) const { return static_cast<std::uint32_t>(at - hold_); }
  std::uint64_t absolute(std::size_t at) const { return window_base_ + at; }
  bool in_foreign_content() const;

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  HtmlTokenSink& sink_;
  HtmlTokenizerOptions options_;
  HtmlBailout bailout_ = HtmlBailout::none;

  // The bytes being scanned: the chunk itself, or carry_ + chunk when a tag spans chunks.
  std::string carry_;
  const char* window_ = nullptr;
  std::size_t window_size_ = 0;
  // One past the window's last whitespace, '/' or '>' (0: none near its end): name loops that
  // start before it need no bounds check.
  std::size_t name_stop_end_ = 0;
  std::size_t pos_ = 0;
  std::size_t committed_ = 0;  // window bytes before this went to the sink already
  std::size_t hold_ = npos;    // start of a tag that may still be delivered as a token
  std::uint64_t window_base_ = 0;
  std::uint64_t document_bytes_ = 0;

  State state_;
  State text_state_;  // the text state a failed end tag (`</scriptx`) falls back to
  bool end_tag_ = false;
  bool self_closing_ = false;
  bool recording_ = false;  // attributes of the current tag are recorded
  HtmlTag tag_ = HtmlTag::other;
  std::uint32_t name_end_ = 0;
  std::string name_;
  std::string last_start_tag_;
  std::string double_escape_name_;
  std::vector<HtmlAttributeSpan> attributes_;
  std::uint64_t comment_begin_ = 0;
  std::size_t declaration_matched_ = 0;
  char declaration_kind_ = 0;  // '-', 'D' or '[' once the first byte after `<!` chose one

  // Tree-builder simulation.
  std::vector<Frame> frames_;  // open SVG/MathML roots and HTML integration points
  bool in_select_ = false;
  bool after_frameset_ = false;
};

// The value of an attribute as the HTML parser sees it: character references decoded (named ones
// by the full WHATWG table, with the attribute-value rule for a missing ';'), CR and CRLF as LF,
// NUL as U+FFFD. Appends to `out`.
void decode_html_attribute_value(std::string_view raw, std::string& out);

}  // namespace veil::proxy
