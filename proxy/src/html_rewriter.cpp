#include "veil/proxy/html_rewriter.hpp"

#include <stdexcept>

namespace veil::proxy {
namespace {

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

// Names a caller may write: no byte that would end the name or the tag.
std::string valid_attribute_name(std::string_view name) {
  std::string lower;
  for (char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7F || c == '"' || c == '\'' || c == '<' || c == '>' || c == '/' ||
        c == '=') {
      throw std::invalid_argument("invalid HTML attribute name '" + std::string(name) + "'");
    }
    lower += to_lower(c);
  }
  if (lower.empty()) throw std::invalid_argument("empty HTML attribute name");
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
  for (char c : text) {
    switch (c) {
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
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
}

std::string html_escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_html_escaped(out, text);
  return out;
}

std::optional<std::string_view> HtmlElement::attribute(std::string_view name) const {
  for (const HtmlAttribute& attribute : attributes_) {
    if (equals_ignoring_case(attribute.name, name)) return attribute.value;
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

  // Decode every name and value into one buffer first, then point the views into it.
  decoded_.clear();
  std::vector<std::size_t>& bounds = decoded_bounds_;
  bounds.clear();
  for (const HtmlAttributeSpan& span : spans_) {
    for (char c : std::string_view(raw_).substr(span.name_begin, span.name_end - span.name_begin)) {
      if (c == '\0') {
        decoded_ += "\xEF\xBF\xBD";
      } else {
        decoded_ += to_lower(c);
      }
    }
    bounds.push_back(decoded_.size());
    decode_html_attribute_value(
        std::string_view(raw_).substr(span.value_begin, span.value_end - span.value_begin),
        decoded_);
    bounds.push_back(decoded_.size());
  }
  attributes_.clear();
  std::size_t begin = 0;
  for (std::size_t i = 0; i < spans_.size(); ++i) {
    const std::string_view all(decoded_);
    const std::size_t name_end = bounds[2 * i];
    const std::size_t value_end = bounds[2 * i + 1];
    attributes_.push_back(HtmlAttribute{all.substr(begin, name_end - begin),
                                        all.substr(name_end, value_end - name_end),
                                        spans_[i].has_value});
    begin = value_end;
  }

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
  for (std::size_t i = 0; i < spans_.size(); ++i) {
    for (std::size_t c = 0; c < changes_.size(); ++c) {
      if (changes_[c].name != attributes_[i].name) continue;
      // The edit (offset, length, replacement): the whole attribute, quotes included.
      out += raw.substr(copied, spans_[i].name_begin - copied);
      if (changes_[c].value && !written[c])
        append_attribute(out, changes_[c].name, *changes_[c].value);
      written[c] = true;
      copied = spans_[i].end();
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
  if (!started_) {
    tokenizer_.set_tags_of_interest(interest_);
    started_ = true;
  }
  out_ = &out;
  tokenizer_.write(chunk);
  out_ = nullptr;
}

void HtmlRewriter::end(std::string& out) {
  started_ = true;
  out_ = &out;
  tokenizer_.end();
  switch (mode_) {
    case Mode::buffer_script:  // a script that runs to the end of the document is complete
      finish_script({}, true);
      break;
    case Mode::await_end_tag:
      out += pending_after_;
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
      out_->append(bytes);
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
      if (mode_ != Mode::drop) out_->append(bytes.substr(room));
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
  std::string& out = *out_;
  out += element_.before_;
  if (element_.replacement_) {
    out += *element_.replacement_;
  } else {
    element_.render_start_tag(out);
  }
  if (holds_text && (element_.replaced() || !element_.after_.empty())) {
    mode_ = element_.replaced() ? Mode::drop : Mode::await_end_tag;
    awaited_end_tag_ = token.tag;
    pending_after_ = element_.after_;
  } else {
    out += element_.after_;
  }
  if (token.tag == HtmlTag::body && !token.foreign && body_insertion_pending_) {
    out += body_insertion_;
    body_insertion_pending_ = false;
    body_insertion_done_ = true;
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
      out_->append(pending_after_);
      mode_ = Mode::pass;
    }
    return;
  }
  out_->append(token.raw);
  if (mode_ == Mode::await_end_tag && awaited) {
    out_->append(pending_after_);
    mode_ = Mode::pass;
  }
}

void HtmlRewriter::finish_script(std::string_view end_tag, bool complete) {
  element_.content_ = script_content_;
  element_.content_complete_ = complete;
  run_handlers();
  std::string& out = *out_;
  out += element_.before_;
  if (element_.replacement_) {
    out += *element_.replacement_;
  } else {
    element_.render_start_tag(out);
    out += script_content_;
    out += end_tag;
  }
  if (complete) {
    out += element_.after_;
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
    out_->append(element_.raw_);
    out_->append(script_content_);
    script_content_.clear();
  }
  mode_ = Mode::pass;
}

}  // namespace veil::proxy
