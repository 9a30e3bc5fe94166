// Streaming HTML rewriting on top of HtmlTokenizer: callers register interest in element kinds and
// edit those elements; every other byte passes through untouched.
//
//   HtmlRewriter rewriter;
//   rewriter.on_element({HtmlTag::script}, [](HtmlElement& script) {
//     if (script.attribute("src") == "https://tracker.example/t.js") script.remove();
//   });
//   rewriter.insert_after_body_start("<div role=\"region\">…</div>");
//   for (chunk : body) rewriter.write(chunk, out);
//   rewriter.end(out);
//
// Element handlers run once per start tag of a registered kind, in registration order, with the
// attributes decoded. An HTML `<script>` is held until its end tag so that handlers also see its
// inline content (up to max_construct_bytes; beyond that they see the first part, with
// content_complete() false). When the tokenizer bails out (a limit, or markup whose parse depends
// on the tree), whatever is held is released unmodified, the rest of the document passes through
// unchanged, and bailout() says why: the caller counts it and relies on its CSP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "veil/proxy/html_tokenizer.hpp"

namespace veil::proxy {

// Appends `text` with & < > " ' replaced by character references: safe as element text and inside
// a quoted attribute value.
void append_html_escaped(std::string& out, std::string_view text);
std::string html_escaped(std::string_view text);

// A start tag of interest, with the edits its handlers ask for.
class HtmlElement {
 public:
  HtmlTag tag() const { return tag_; }
  std::string_view name() const { return name_; }
  bool self_closing() const { return self_closing_; }
  bool foreign() const { return foreign_; }  // an SVG/MathML element of that name
  // The value the parser keeps for `name` (its first occurrence; names compared ASCII
  // case-insensitively), decoded (decode_html_attribute_value), nullopt when absent. Decoded on
  // demand: a value without '&', CR or NUL is a view into the tag as it came. Views stay valid
  // until the element's handlers have all run.
  std::optional<std::string_view> attribute(std::string_view name) const;

  // An HTML <script>'s inline content, as in the source (empty for other elements).
  bool has_content() const { return has_content_; }
  std::string_view content() const { return content_; }
  bool content_complete() const { return content_complete_; }

  // Attribute names must be valid HTML attribute names (else std::invalid_argument); values and
  // names are written as `name="escaped value"`. Removing or setting a name also drops its
  // duplicates.
  void set_attribute(std::string_view name, std::string_view value);
  void remove_attribute(std::string_view name);
  // Raw HTML before the element, and after it: for <iframe> and HTML <script> after their end
  // tag, otherwise right after the start tag.
  void insert_before(std::string_view html) { before_ += html; }
  void insert_after(std::string_view html) { after_ += html; }
  // Replaces the element by raw HTML: <iframe> and HTML <script> up to and including their end
  // tag; other elements only their start tag (their content, e.g. a <video>'s fallback, stays).
  void replace(std::string_view html) { replacement_ = std::string(html); }
  void remove() { replacement_ = std::string(); }
  bool replaced() const { return replacement_.has_value(); }

 private:
  friend class HtmlRewriter;
  struct AttributeChange {
    std::string name;
    std::optional<std::string> value;  // nullopt: remove
  };

  void load(const HtmlTagToken& token);
  void render_start_tag(std::string& out) const;
  AttributeChange& change_for(std::string_view name);

  HtmlTag tag_ = HtmlTag::other;
  bool self_closing_ = false;
  bool foreign_ = false;
  std::string name_;
  std::string raw_;
  std::uint32_t name_end_ = 0;
  std::vector<HtmlAttributeSpan> spans_;
  // Per attribute: its decoded value once asked for one that needs decoding (sized in load(), so
  // views into the strings stay put).
  mutable std::vector<std::string> decoded_values_;
  mutable std::vector<bool> decoded_;
  bool has_content_ = false;
  bool content_complete_ = false;
  std::string_view content_;

  std::vector<AttributeChange> changes_;
  std::string before_;
  std::string after_;
  std::optional<std::string> replacement_;
};

struct HtmlRewriterOptions {
  std::size_t max_construct_bytes = 64 * 1024;  // one tag, and one inline script's content
  std::uint64_t max_document_bytes = 64ull * 1024 * 1024;
};

class HtmlRewriter : private HtmlTokenSink {
 public:
  using ElementHandler = std::function<void(HtmlElement&)>;

  explicit HtmlRewriter(HtmlRewriterOptions options = {});
  HtmlRewriter(const HtmlRewriter&) = delete;
  HtmlRewriter& operator=(const HtmlRewriter&) = delete;

  // Registration happens before the first write (std::logic_error afterwards).
  void on_element(HtmlTagSet tags, ElementHandler handler);
  // Raw HTML placed right after the first HTML <body> start tag (the consent banner).
  void insert_after_body_start(std::string html);

  // Appends the rewritten bytes available so far to `out`.
  void write(std::string_view chunk, std::string& out);
  void end(std::string& out);
  // write() and end() without output: the document is tokenized and the handlers run exactly as
  // for write(), but nothing is rendered or copied (their edits are dropped). For report-only
  // mode, where the caller passes the original bytes on itself and only wants to know what the
  // handlers would do.
  void scan(std::string_view chunk);
  void end_scan();

  HtmlBailout bailout() const { return tokenizer_.bailout(); }
  bool inserted_after_body_start() const { return body_insertion_done_; }

 private:
  enum class Mode : std::uint8_t {
    pass,           // bytes go to the output
    buffer_script,  // a <script>'s start tag and content are held for its handlers
    drop,           // a replaced element's content and end tag are skipped
    await_end_tag,  // the element's `after` HTML goes out after its end tag
  };

  void on_bytes(std::string_view bytes) override;
  void on_tag(const HtmlTagToken& token) override;
  void on_bailout(HtmlBailout reason) override;

  void feed(std::string_view chunk, std::string* out);
  void finish(std::string* out);
  void emit(std::string_view bytes) {
    if (out_ != nullptr) out_->append(bytes);
  }
  // The element's `before` HTML, then its replacement, or its start tag followed by `content`.
  void emit_element(std::string_view content);
  void start_element(const HtmlTagToken& token);
  void end_element(const HtmlTagToken& token);
  void finish_script(std::string_view end_tag, bool complete);
  void run_handlers();
  void ensure_not_started() const;

  HtmlRewriterOptions options_;
  HtmlTokenizer tokenizer_;
  HtmlTagSet interest_;
  std::vector<std::pair<HtmlTagSet, ElementHandler>> handlers_;
  std::string body_insertion_;
  bool body_insertion_pending_ = false;
  bool body_insertion_done_ = false;
  bool started_ = false;

  std::string* out_ = nullptr;  // null while scanning
  Mode mode_ = Mode::pass;
  HtmlTag awaited_end_tag_ = HtmlTag::other;
  std::string pending_after_;
  std::string script_content_;
  HtmlElement element_;
};

}  // namespace veil::proxy
