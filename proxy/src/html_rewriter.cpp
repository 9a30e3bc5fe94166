#include "veil/proxy/html_rewriter.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "text.hpp"
namespace veil::proxy {
namespace {

// The bytes append_html_escaped replaces; a table because placeholders and banners escape
// kilobytes of text per page.
constexpr std::array<bool, 256> kEscaped = [] {
  std::array<bool, 256> table{};
  for (char c : {'&', '<', '>', '"', '\''}) table[static_cast<unsigned char>(c)] = true;
  return table;
}();
bool is_escaped(char c) {
  return kEscaped[static_cast<unsigned char>(c)];
}

bool needs_decoding(char c) {
  return c == '&' || c == '\r' || c == '\0';
}

// Names a caller may write: no byte that would end the name or the tag.
std::string valid_attribute_name(std::string_view name) {
  if (name.empty()) throw std::invalid_argument("empty HTML attribute name");
  std::string lower(name);
  for (char& c : lower) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7F || c == '"' || c == '\'' || c == '<' || c == '>' || c == '/' ||
        c == '=') {
      throw std::invalid_argument("invalid HTML attribute name '" + std::string(name) + "'");
    }
    c = to_lower(c);
  }
  return lower;
}

void append_attribute(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += "=\"";
  append_html_escaped(out, value);
  out += '"';
}

}  // namespace

void append_html_escaped(std::string& out, std::string_view text) {
  while (!text.empty()) {
    std::size_t special = 0;
    while (special < text.size() && !is_escaped(text[special])) ++special;
    out.append(text.substr(0, special));
    if (special == text.size()) return;
    switch (text[special]) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += "&#39;";
        break;
    }
    text.remove_prefix(special + 1);
  }
}

std::string html_escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_html_escaped(out, text);
  return out;
}

std::optional<std::string_view> HtmlElement::attribute(std::string_view name) const {
  const std::string_view raw(raw_);
  for (std::size_t i = 0; i < spans_.size(); ++i) {
    const HtmlAttributeSpan& span = spans_[i];
    if (!iequals(raw.substr(span.name_begin, span.name_end - span.name_begin), name)) {
      continue;
    }
    const auto value = raw.substr(span.value_begin, span.value_end - span.value_begin);
    if (std::none_of(value.begin(), value.end(), needs_decoding)) return value;
    if (!decoded_[i]) {
      decode_html_attribute_value(value, decoded_values_[i]);
      decoded_[i] = true;
    }
    return decoded_values_[i];
  }
  return std::nullopt;
}

HtmlElement::AttributeChange& HtmlElement::change_for(std::string_view name) {
  std::string lower = valid_attribute_name(name);
  for (AttributeChange& change : changes_) {
    if (change.name == lower) return change;
  }
  return changes_.emplace_back(AttributeChange{std::move(lower), std::nullopt});
}

void HtmlElement::set_attribute(std::string_view name, std::string_view value) {
  change_for(name).value = std::string(value);
}

void HtmlElement::remove_attribute(std::string_view name) {
  change_for(name).value.reset();
}

void HtmlElement::load(const HtmlTagToken& token) {
  tag_ = token.tag;
  self_closing_ = token.self_closing;
  foreign_ = token.foreign;
  name_.assign(token.name);
  raw_.assign(token.raw);
  name_end_ = token.name_end;
  spans_.assign(token.attributes.begin(), token.attributes.end());

  if (decoded_values_.size() < spans_.size()) decoded_values_.resize(spans_.size());
  for (std::size_t i = 0; i < spans_.size(); ++i) decoded_values_[i].clear();
  decoded_.assign(spans_.size(), false);

  has_content_ = false;
  content_complete_ = false;
  content_ = {};
  changes_.clear();
  before_.clear();
  after_.clear();
  replacement_.reset();
}

void HtmlElement::render_start_tag(std::string& out) const {
  if (changes_.empty()) {
    out += raw_;
    return;
  }
  const std::string_view raw(raw_);
  // Attributes the tag does not have yet go right after its name.
  out += raw.substr(0, name_end_);
  for (const AttributeChange& change : changes_) {
    if (!change.value || attribute(change.name)) continue;
    out += ' ';
    append_attribute(out, change.name, *change.value);
  }
  std::size_t copied = name_end_;
  std::vector<bool> written(changes_.size(), false);
  for (const HtmlAttributeSpan& span : spans_) {
    const auto name = raw.substr(span.name_begin, span.name_end - span.name_begin);
    for (std::size_t c = 0; c < changes_.size(); ++c) {
      if (!iequals(name, changes_[c].name)) continue;
      // The edit (offset, length, replacement): the whole attribute, quotes included.
      out += raw.substr(copied, span.name_begin - copied);
      if (changes_[c].value && !written[c])
        append_attribute(out, changes_[c].name, *changes_[c].value);
      written[c] = true;
      copied = span.end();
      break;
    }
  }
  out += raw.substr(copied);
}

HtmlRewriter::HtmlRewriter(HtmlRewriterOptions options)
    : options_(options),
      tokenizer_(*this, HtmlTokenizerOptions{
                            {}, options.max_construct_bytes, options.max_document_bytes, true}) {}

void HtmlRewriter::ensure_not_started() const {
  if (started_) throw std::logic_error("HtmlRewriter: register handlers before the first write");
}

void HtmlRewriter::on_element(HtmlTagSet tags, ElementHandler handler) {
  ensure_not_started();
  interest_ |= tags;
  handlers_.emplace_back(tags, std::move(handler));
}

void HtmlRewriter::insert_after_body_start(std::string html) {
  ensure_not_started();
  interest_ |= HtmlTagSet{HtmlTag::body};
  body_insertion_ = std::move(html);
  body_insertion_pending_ = true;
}

void HtmlRewriter::write(std::string_view chunk, std::string& out) {
  feed(chunk, &out);
}

void HtmlRewriter::end(std::string& out) {
  finish(&out);
}

void HtmlRewriter::scan(std::string_view chunk) {
  feed(chunk, nullptr);
}

void HtmlRewriter::end_scan() {
  finish(nullptr);
}

void HtmlRewriter::feed(std::string_view chunk, std::string* out) {
  if (!started_) {
    tokenizer_.set_tags_of_interest(interest_);
    started_ = true;
  }
  out_ = out;
  tokenizer_.write(chunk);
  out_ = nullptr;
}

void HtmlRewriter::finish(std::string* out) {
  started_ = true;
  out_ = out;
  tokenizer_.end();
  switch (mode_) {
    case Mode::buffer_script:  // a script that runs to the end of the document is complete
      finish_script({}, true);
      break;
    case Mode::await_end_tag:
      emit(pending_after_);
      break;
    case Mode::drop:
    case Mode::pass:
      break;
  }
  mode_ = Mode::pass;
  out_ = nullptr;
}

void HtmlRewriter::run_handlers() {
  for (auto& [tags, handler] : handlers_) {
    if (tags.contains(element_.tag())) handler(element_);
  }
}

void HtmlRewriter::on_bytes(std::string_view bytes) {
  switch (mode_) {
    case Mode::pass:
    case Mode::await_end_tag:
      emit(bytes);
      break;
    case Mode::drop:
      break;
    case Mode::buffer_script: {
      const std::size_t room = options_.max_construct_bytes - script_content_.size();
      if (bytes.size() <= room) {
        script_content_.append(bytes);
        break;
      }
      // Too long to hold: handlers decide on the first part, the rest streams.
      script_content_.append(bytes.substr(0, room));
      finish_script({}, false);
      if (mode_ != Mode::drop) emit(bytes.substr(room));
      break;
    }
  }
}

void HtmlRewriter::on_tag(const HtmlTagToken& token) {
  if (token.end_tag) {
    end_element(token);
  } else if (mode_ == Mode::drop) {
    return;  // cannot happen inside raw text; a dropped element drops everything it holds
  } else {
    start_element(token);
  }
}

void HtmlRewriter::start_element(const HtmlTagToken& token) {
  element_.load(token);
  const bool holds_text =
      !token.foreign && (token.tag == HtmlTag::iframe || token.tag == HtmlTag::script);
  if (token.tag == HtmlTag::script && !token.foreign) {
    element_.has_content_ = true;
    script_content_.clear();
    mode_ = Mode::buffer_script;
    return;
  }
  run_handlers();
  emit_element({});
  if (holds_text && (element_.replaced() || !element_.after_.empty())) {
    mode_ = element_.replaced() ? Mode::drop : Mode::await_end_tag;
    awaited_end_tag_ = token.tag;
    pending_after_ = element_.after_;
  } else {
    emit(element_.after_);
  }
  if (token.tag == HtmlTag::body && !token.foreign && body_insertion_pending_) {
    emit(body_insertion_);
    body_insertion_pending_ = false;
    body_insertion_done_ = true;
  }
}

void HtmlRewriter::emit_element(std::string_view content) {
  if (out_ == nullptr) return;
  std::string& out = *out_;
  out += element_.before_;
  if (element_.replacement_) {
    out += *element_.replacement_;
  } else {
    element_.render_start_tag(out);
    out += content;
  }
}

void HtmlRewriter::end_element(const HtmlTagToken& token) {
  if (mode_ == Mode::buffer_script && token.tag == HtmlTag::script) {
    finish_script(token.raw, true);
    return;
  }
  const bool awaited = token.tag == awaited_end_tag_;
  if (mode_ == Mode::drop) {
    if (awaited) {
      emit(pending_after_);
      mode_ = Mode::pass;
    }
    return;
  }
  emit(token.raw);
  if (mode_ == Mode::await_end_tag && awaited) {
    emit(pending_after_);
    mode_ = Mode::pass;
  }
}

void HtmlRewriter::finish_script(std::string_view end_tag, bool complete) {
  element_.content_ = script_content_;
  element_.content_complete_ = complete;
  run_handlers();
  emit_element(script_content_);
  if (!element_.replaced()) emit(end_tag);
  if (complete) {
    emit(element_.after_);
    mode_ = Mode::pass;
  } else {
    mode_ = element_.replaced() ? Mode::drop : Mode::await_end_tag;
    awaited_end_tag_ = HtmlTag::script;
    pending_after_ = element_.after_;
  }
  script_content_.clear();
}

void HtmlRewriter::on_bailout(HtmlBailout) {
  // What is held goes out as it came; the rest of the document passes through.
  if (mode_ == Mode::buffer_script) {
    emit(element_.raw_);
    emit(script_content_);
    script_content_.clear();
  }
  mode_ = Mode::pass;
}

}  // namespace veil::proxy
