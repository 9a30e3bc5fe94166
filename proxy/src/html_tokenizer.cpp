#include "veil/proxy/html_tokenizer.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <iterator>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "html_entities.hpp"
#include "text.hpp"

namespace veil::proxy {
namespace {

// Tag and attribute names longer than this are cut (they match nothing we act on).
constexpr std::size_t kMaxNameLength = 256;
// Deeper SVG/MathML nesting than this is not simulated.
constexpr std::size_t kMaxForeignDepth = 512;

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// Byte classes for the tight loops inside tags.
enum : std::uint8_t { kSpace = 1, kSlash = 2, kGreater = 4, kEquals = 8 };
// What ends a tag name (an attribute name also ends at '=').
constexpr std::uint8_t kEndsName = kSpace | kSlash | kGreater;
constexpr std::array<std::uint8_t, 256> kByteClass = [] {
  std::array<std::uint8_t, 256> table{};
  for (char c : {' ', '\n', '\t', '\f', '\r'}) table[static_cast<unsigned char>(c)] = kSpace;
  table['/'] = kSlash;
  table['>'] = kGreater;
  table['='] = kEquals;
  return table;
}();
std::uint8_t byte_class(char c) {
  return kByteClass[static_cast<unsigned char>(c)];
}

// The offset of the first `c` in p[pos, n), or n. On tag-dense pages the next '<' or quote is
// usually a few bytes away, where a libc call costs more than the search: the first 16 bytes are
// looked at inline, longer runs go to memchr.
inline std::size_t find_byte(const char* p, std::size_t pos, std::size_t n, char c) {
#if defined(__SSE2__)
  if (n - pos >= 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + pos));
    const auto found =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, _mm_set1_epi8(c))));
    if (found != 0) return pos + static_cast<std::size_t>(std::countr_zero(found));
    pos += 16;
  }
#endif
  const void* found = std::memchr(p + pos, c, n - pos);
  return found == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(found) - p);
}

bool is_whitespace(char c) {
  return byte_class(c) == kSpace;
}
bool is_alpha(char c) {
  return static_cast<unsigned char>((c | 0x20) - 'a') < 26;
}
bool is_digit(char c) {
  return static_cast<unsigned char>(c - '0') < 10;
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}

void append_name_char(std::string& name, char c) {
  if (name.size() >= kMaxNameLength) return;
  if (c == '\0') {
    name += kReplacementCharacter;
  } else {
    name += to_lower(c);
  }
}

void append_name(std::string& name, std::string_view run) {
  if (std::memchr(run.data(), '\0', run.size()) != nullptr) {
    for (char c : run) append_name_char(name, c);
    return;
  }
  const std::size_t old_size = name.size();
  name.append(run.substr(0, kMaxNameLength - std::min(kMaxNameLength, old_size)));
  for (std::size_t i = old_size; i < name.size(); ++i) name[i] = to_lower(name[i]);
}

// The names html_tag_from_name knows, in a table with one slot per name: the slot is a hash of a
// name's length and its first, second and last bytes (folded to lower case), so a lookup is one
// hash and one comparison, and most names of no interest (div, span, table, section, …) hit an
// empty slot without a comparison. The build fails if two names ever share a slot.
struct KnownTag {
  std::string_view name;
  HtmlTag tag = HtmlTag::other;
};
constexpr KnownTag kKnownTags[] = {
    {"img", HtmlTag::img},
    {"svg", HtmlTag::svg},
    {"xmp", HtmlTag::xmp},
    {"link", HtmlTag::link},
    {"meta", HtmlTag::meta},
    {"body", HtmlTag::body},
    {"head", HtmlTag::head},
    {"math", HtmlTag::math},
    {"video", HtmlTag::video},
    {"audio", HtmlTag::audio},
    {"embed", HtmlTag::embed},
    {"style", HtmlTag::style},
    {"title", HtmlTag::title},
    {"script", HtmlTag::script},
    {"iframe", HtmlTag::iframe},
    {"object", HtmlTag::object},
    {"source", HtmlTag::source},
    {"select", HtmlTag::select},
    {"noembed", HtmlTag::noembed},
    {"noscript", HtmlTag::noscript},
    {"textarea", HtmlTag::textarea},
    {"template", HtmlTag::template_},
    {"noframes", HtmlTag::noframes},
    {"frameset", HtmlTag::frameset},
    {"plaintext", HtmlTag::plaintext},
    // Not a kind of its own, but a start tag the parser renames to img (name_ended): listed so
    // that the fast skip leaves it to the general states.
    {"image", HtmlTag::other},
};
constexpr std::size_t kShortestKnownName = 3;  // img, svg, xmp
constexpr std::size_t kLongestKnownName = 9;   // plaintext

// For names of kShortestKnownName to kLongestKnownName bytes.
constexpr std::size_t known_tag_slot(char first, char second, char last, std::size_t length) {
  const auto byte = [](char c) {
    return static_cast<std::size_t>(static_cast<unsigned char>(to_lower(c)));
  };
  return (byte(first) + byte(second) * 8 + byte(last) * 37 + length) & 255;
}

constexpr std::array<KnownTag, 256> kKnownTagSlots = [] {
  std::array<KnownTag, 256> slots{};
  for (const KnownTag& known : kKnownTags) {
    const auto name = known.name;
    if (name.size() < kShortestKnownName || name.size() > kLongestKnownName) {
      throw "kKnownTags: a name outside kShortestKnownName..kLongestKnownName";
    }
    auto& slot = slots[known_tag_slot(name[0], name[1], name.back(), name.size())];
    if (!slot.name.empty()) throw "kKnownTags: two names share a slot; change known_tag_slot";
    slot = known;
  }
  return slots;
}();

bool has_known_length(std::size_t length) {
  return length >= kShortestKnownName && length <= kLongestKnownName;
}

// The entry for `name` (any case), or nullptr when it is not a known name. Kept out of line, and
// the fast skip calls it only for names of a known length: inlined into run() for every tag it
// made the loop slower in time (measured) although it ran fewer instructions.
[[gnu::noinline]] const KnownTag* find_known_tag(const char* name, std::size_t length) {
  if (!has_known_length(length)) return nullptr;
  const KnownTag& known =
      kKnownTagSlots[known_tag_slot(name[0], name[1], name[length - 1], length)];
  if (known.name.size() != length) return nullptr;
  for (std::size_t i = 0; i < length; ++i) {
    if (to_lower(name[i]) != known.name[i]) return nullptr;
  }
  return &known;
}

bool contains_name(std::span<const std::string_view> sorted, std::string_view name) {
  return std::binary_search(sorted.begin(), sorted.end(), name);
}

// Start tags that leave SVG/MathML content (WHATWG "parsing main in foreign content"), sorted.
constexpr std::string_view kBreakoutTags[] = {
    "b",      "big",    "blockquote", "body",  "br",    "center", "code", "dd",      "div",
    "dl",     "dt",     "em",         "embed", "font",  "h1",     "h2",   "h3",      "h4",
    "h5",     "h6",     "head",       "hr",    "i",     "img",    "li",   "listing", "menu",
    "meta",   "nobr",   "ol",         "p",     "pre",   "ruby",   "s",    "small",   "span",
    "strike", "strong", "sub",        "sup",   "table", "tt",     "u",    "ul",      "var",
};
static_assert(std::is_sorted(std::begin(kBreakoutTags), std::end(kBreakoutTags)));

// SVG and MathML element names (lower case): an end tag with one of these inside foreign content
// closes a foreign element; any other name may close HTML elements around the <svg>/<math>.
constexpr std::string_view kForeignElements[] = {
    "a",
    "animate",
    "animatemotion",
    "animatetransform",
    "annotation",
    "annotation-xml",
    "circle",
    "clippath",
    "defs",
    "desc",
    "discard",
    "ellipse",
    "feblend",
    "fecolormatrix",
    "fecomponenttransfer",
    "fecomposite",
    "feconvolvematrix",
    "fediffuselighting",
    "fedisplacementmap",
    "fedistantlight",
    "fedropshadow",
    "feflood",
    "fefunca",
    "fefuncb",
    "fefuncg",
    "fefuncr",
    "fegaussianblur",
    "feimage",
    "femerge",
    "femergenode",
    "femorphology",
    "feoffset",
    "fepointlight",
    "fespecularlighting",
    "fespotlight",
    "fetile",
    "feturbulence",
    "filter",
    "foreignobject",
    "g",
    "image",
    "line",
    "lineargradient",
    "maction",
    "malignmark",
    "marker",
    "mask",
    "math",
    "menclose",
    "merror",
    "metadata",
    "mfenced",
    "mfrac",
    "mglyph",
    "mi",
    "mmultiscripts",
    "mn",
    "mo",
    "mover",
    "mpadded",
    "mpath",
    "mphantom",
    "mprescripts",
    "mroot",
    "mrow",
    "ms",
    "mspace",
    "msqrt",
    "mstyle",
    "msub",
    "msubsup",
    "msup",
    "mtable",
    "mtd",
    "mtext",
    "mtr",
    "munder",
    "munderover",
    "none",
    "path",
    "pattern",
    "polygon",
    "polyline",
    "radialgradient",
    "rect",
    "script",
    "semantics",
    "set",
    "stop",
    "style",
    "svg",
    "switch",
    "symbol",
    "text",
    "textpath",
    "title",
    "tspan",
    "use",
    "view",
};
static_assert(std::is_sorted(std::begin(kForeignElements), std::end(kForeignElements)));

bool is_breakout_tag(std::string_view name) {
  return contains_name(kBreakoutTags, name);
}

bool is_foreign_element(std::string_view name) {
  return contains_name(kForeignElements, name);
}

// Elements whose content is parsed as HTML again inside SVG (HTML integration points) or MathML
// (text integration points).
bool is_integration_point(HtmlTag root, std::string_view name) {
  if (root == HtmlTag::svg) return name == "foreignobject" || name == "desc" || name == "title";
  return name == "mi" || name == "mo" || name == "mn" || name == "ms" || name == "mtext";
}

// The WHATWG "numeric character reference end state" fix-ups.
std::uint32_t numeric_reference_code_point(std::uint32_t value) {
  static constexpr std::array<std::uint16_t, 32> kWindows1252{
      0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
  if (value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0xFFFD;
  if (value >= 0x80 && value <= 0x9F) return kWindows1252[value - 0x80];
  return value;
}

// Decodes the numeric reference at raw[at] == '&', raw[at + 1] == '#'; returns the bytes consumed,
// or 0 when no digits follow (then the '&' is literal).
std::size_t decode_numeric_reference(std::string_view raw, std::size_t at, std::string& out) {
  std::size_t i = at + 2;
  const bool hex = i < raw.size() && (raw[i] == 'x' || raw[i] == 'X');
  if (hex) ++i;
  const std::size_t digits_begin = i;
  std::uint32_t value = 0;
  for (; i < raw.size(); ++i) {
    const char c = raw[i];
    std::uint32_t digit;
    if (is_digit(c)) {
      digit = static_cast<std::uint32_t>(c - '0');
    } else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
      digit = static_cast<std::uint32_t>((c | 0x20) - 'a' + 10);
    } else {
      break;
    }
    value = std::min<std::uint32_t>(value * (hex ? 16 : 10) + digit, 0x110000);
  }
  if (i == digits_begin) return 0;
  if (i < raw.size() && raw[i] == ';') ++i;
  append_utf8(out, numeric_reference_code_point(value));
  return i - at;
}

}  // namespace

HtmlTag html_tag_from_name(std::string_view name) {
  const KnownTag* known = find_known_tag(name.data(), name.size());
  return known != nullptr ? known->tag : HtmlTag::other;
}

std::string_view to_string(HtmlBailout reason) {
  switch (reason) {
    case HtmlBailout::none:
      return "none";
    case HtmlBailout::construct_too_large:
      return "construct_too_large";
    case HtmlBailout::document_too_large:
      return "document_too_large";
    case HtmlBailout::ambiguous_select:
      return "ambiguous_select";
    case HtmlBailout::ambiguous_frameset:
      return "ambiguous_frameset";
    case HtmlBailout::ambiguous_foreign_content:
      return "ambiguous_foreign_content";
  }
  return "unknown";
}

void decode_html_attribute_value(std::string_view raw, std::string& out) {
  std::size_t i = 0;
  while (i < raw.size()) {
    std::size_t plain_end = i;
    while (plain_end < raw.size() && raw[plain_end] != '&' && raw[plain_end] != '\r' &&
           raw[plain_end] != '\0') {
      ++plain_end;
    }
    out.append(raw.substr(i, plain_end - i));
    i = plain_end;
    if (i == raw.size()) break;
    const char c = raw[i];
    if (c == '&' && i + 1 < raw.size() && raw[i + 1] == '#') {
      const std::size_t consumed = decode_numeric_reference(raw, i, out);
      if (consumed == 0) {
        out += '&';
        ++i;
      } else {
        i += consumed;
      }
    } else if (c == '&') {
      const auto match = match_named_reference(raw.substr(i + 1));
      const std::size_t after = match ? i + 1 + match->length : 0;
      // In attribute values a reference without ';' followed by '=' or an alphanumeric stays
      // literal (historical URLs such as ?a=1&copy=2).
      const bool literal = !match || (raw[after - 1] != ';' && after < raw.size() &&
                                      (raw[after] == '=' || is_alnum(raw[after])));
      if (literal) {
        out += '&';
        ++i;
      } else {
        out += match->utf8;
        i = after;
      }
    } else if (c == '\r') {
      out += '\n';
      i += (i + 1 < raw.size() && raw[i + 1] == '\n') ? 2 : 1;
    } else {  // NUL
      out += kReplacementCharacter;
      ++i;
    }
  }
}

enum class HtmlTokenizer::State : std::uint8_t {
  data,
  rcdata,
  rawtext,
  script_data,
  plaintext,
  cdata,
  cdata_bracket,
  cdata_end,
  tag_open,
  end_tag_open,
  tag_name,
  text_less_than,
  text_end_tag_open,
  text_end_tag_name,
  script_less_than,
  script_escape_start,
  script_escape_start_dash,
  script_escaped,
  script_escaped_dash,
  script_escaped_dash_dash,
  script_escaped_less_than,
  script_double_escape_start,
  script_double_escaped,
  script_double_escaped_dash,
  script_double_escaped_dash_dash,
  script_double_escaped_less_than,
  script_double_escape_end,
  before_attribute_name,
  attribute_name,
  after_attribute_name,
  before_attribute_value,
  attribute_value_double_quoted,
  attribute_value_single_quoted,
  attribute_value_unquoted,
  after_attribute_value_quoted,
  self_closing_start_tag,
  markup_declaration_open,
  comment_start,
  comment_start_dash,
  comment,
  comment_end_dash,
  comment_end,
  comment_end_bang,
  bogus_comment,
  doctype,
};

HtmlTokenizer::HtmlTokenizer(HtmlTokenSink& sink, HtmlTokenizerOptions options)
    : sink_(sink), options_(options), state_(State::data), text_state_(State::data) {}

void HtmlTokenizer::start_in(HtmlTextState state, std::string_view last_start_tag) {
  switch (state) {
    case HtmlTextState::data:
      state_ = State::data;
      break;
    case HtmlTextState::rcdata:
      state_ = State::rcdata;
      break;
    case HtmlTextState::rawtext:
      state_ = State::rawtext;
      break;
    case HtmlTextState::script_data:
      state_ = State::script_data;
      break;
    case HtmlTextState::plaintext:
      state_ = State::plaintext;
      break;
    case HtmlTextState::cdata:
      state_ = State::cdata;
      break;
  }
  last_start_tag_.clear();
  for (char c : last_start_tag) append_name_char(last_start_tag_, c);
}

void HtmlTokenizer::flush_bytes(std::size_t up_to) {
  if (up_to > committed_) {
    sink_.on_bytes(std::string_view(window_ + committed_, up_to - committed_));
    committed_ = up_to;
  }
}

void HtmlTokenizer::bail_out(HtmlBailout reason) {
  bailout_ = reason;
  sink_.on_bailout(reason);
  flush_bytes(window_size_);
  hold_ = npos;
  carry_.clear();
  carry_.shrink_to_fit();
}

void HtmlTokenizer::set_window(const char* data, std::size_t size) {
  // Whitespace, '/' or '>' is rarely far from the end of a piece of HTML; when it is, the name
  // loops just keep their bounds checks.
  constexpr std::size_t kLookBack = 64;
  window_ = data;
  window_size_ = size;
  name_stop_end_ = 0;
  for (std::size_t i = size; i > 0 && size - i < kLookBack; --i) {
    if ((byte_class(data[i - 1]) & kEndsName) != 0) {
      name_stop_end_ = i;
      break;
    }
  }
}

void HtmlTokenizer::write(std::string_view chunk) {
  if (bailout_ != HtmlBailout::none) {
    if (!chunk.empty()) sink_.on_bytes(chunk);
    return;
  }
  document_bytes_ += chunk.size();
  if (document_bytes_ > options_.max_document_bytes) {
    set_window(carry_.data(), carry_.size());
    committed_ = 0;
    bail_out(HtmlBailout::document_too_large);
    if (!chunk.empty()) sink_.on_bytes(chunk);
    return;
  }
  bool window_is_carry = false;
  if (carry_.empty()) {
    pos_ = 0;
    set_window(chunk.data(), chunk.size());
    committed_ = 0;
  } else {
    const auto resumed = resume_carried_tag(chunk);
    if (resumed == Resumed::bailed_out) return;
    window_is_carry = resumed == Resumed::still_held;
  }
  run();
  if (bailout_ != HtmlBailout::none) return;
  if (hold_ == npos) {
    flush_bytes(window_size_);
    window_base_ += window_size_;
    carry_.clear();
    return;
  }
  // A tag is still open: everything before it goes out, the tag waits for the next chunk.
  flush_bytes(hold_);
  const std::size_t held = window_size_ - hold_;
  if (held > options_.max_construct_bytes) {
    bail_out(HtmlBailout::construct_too_large);
    return;
  }
  if (window_is_carry) {
    carry_.erase(0, hold_);
  } else {
    carry_.assign(window_ + hold_, held);
  }
  window_base_ += hold_;
  hold_ = 0;
}

// The tag held over from the last chunk is finished in the carry, topped up with pieces of `chunk`
// that grow (so the copying stays in proportion to the tag); once it is over, the window moves to
// `chunk` itself rather than copying all of it behind a few bytes of tag.
HtmlTokenizer::Resumed HtmlTokenizer::resume_carried_tag(std::string_view chunk) {
  constexpr std::size_t kFirstPiece = 512;
  const std::size_t carried = carry_.size();  // scanned already: the held tag's first bytes
  pos_ = carried;
  committed_ = 0;
  std::size_t taken = 0;
  while (true) {
    const std::size_t piece = std::min(chunk.size() - taken, std::max(taken, kFirstPiece));
    carry_.append(chunk.substr(taken, piece));
    taken += piece;
    set_window(carry_.data(), carry_.size());
    run();
    if (bailout_ != HtmlBailout::none) {
      if (taken < chunk.size()) sink_.on_bytes(chunk.substr(taken));
      return Resumed::bailed_out;
    }
    if (hold_ == npos || hold_ >= carried) break;  // the held tag is over
    if (taken == chunk.size()) return Resumed::still_held;
  }
  // The carry's bytes before whatever is held now go out; chunk[0] is carry_[carried].
  flush_bytes(hold_ == npos ? window_size_ : hold_);
  window_base_ += carried;
  set_window(chunk.data(), chunk.size());
  pos_ -= carried;
  committed_ -= carried;
  if (hold_ != npos) hold_ -= carried;
  carry_.clear();
  return Resumed::in_chunk;
}

void HtmlTokenizer::end() {
  if (bailout_ != HtmlBailout::none) return;
  set_window(carry_.data(), carry_.size());
  committed_ = 0;
  const std::uint64_t eof = absolute(window_size_);
  switch (state_) {
    case State::comment_start:
    case State::comment_start_dash:
      sink_.on_comment(comment_begin_, comment_begin_);
      break;
    case State::comment:
    case State::bogus_comment:
    case State::markup_declaration_open:
      sink_.on_comment(comment_begin_, eof);
      break;
    case State::comment_end_dash:
      sink_.on_comment(comment_begin_, eof - 1);
      break;
    case State::comment_end:
      sink_.on_comment(comment_begin_, eof - 2);
      break;
    case State::comment_end_bang:
      sink_.on_comment(comment_begin_, eof - 3);
      break;
    case State::doctype:
      sink_.on_doctype(comment_begin_ - 2, eof);
      break;
    default:
      break;
  }
  flush_bytes(window_size_);
  carry_.clear();
  hold_ = npos;
  state_ = State::data;
}

bool HtmlTokenizer::in_foreign_content() const {
  return !frames_.empty() && !frames_.back().integration_point;
}

void HtmlTokenizer::name_ended(std::size_t at) {
  tag_ = html_tag_from_name(name_);
  if (!end_tag_ && tag_ == HtmlTag::other && name_ == std::string_view("image") &&
      !in_foreign_content()) {
    tag_ = HtmlTag::img;  // the HTML parser renames it
    name_ = "img";
  }
  recording_ = options_.tags_of_interest.contains(tag_);
  if (recording_) {
    name_end_ = relative(at);
    attributes_.clear();
  } else {
    release_hold();
  }
}

void HtmlTokenizer::begin_attribute(std::size_t at) {
  if (recording_) {
    const std::uint32_t offset = relative(at);
    attributes_.push_back(HtmlAttributeSpan{offset, offset, offset, offset, 0, false});
  }
}

HtmlTokenizer::State HtmlTokenizer::start_tag_text_state(bool& foreign) {
  if (in_foreign_content()) {
    if (!is_breakout_tag(name_)) {
      foreign = true;
      if (self_closing_) return State::data;
      if (frames_.size() >= kMaxForeignDepth || name_ == "annotation-xml") {
        bail_out(HtmlBailout::ambiguous_foreign_content);
      } else if (tag_ == HtmlTag::svg || tag_ == HtmlTag::math) {
        frames_.push_back(Frame{name_, tag_, false});
      } else if (is_integration_point(frames_.back().root, name_)) {
        frames_.push_back(Frame{name_, frames_.back().root, true});
      }
      return State::data;
    }
    // <font> breaks out only with color, face or size attributes, which we do not track.
    if (name_ == "font") {
      bail_out(HtmlBailout::ambiguous_foreign_content);
      return State::data;
    }
    while (!frames_.empty() && !frames_.back().integration_point) frames_.pop_back();
  }
  State text_state = State::data;
  switch (tag_) {
    case HtmlTag::svg:
    case HtmlTag::math:
      foreign = true;
      if (in_select_ || frames_.size() >= kMaxForeignDepth) {
        bail_out(in_select_ ? HtmlBailout::ambiguous_select
                            : HtmlBailout::ambiguous_foreign_content);
      } else if (!self_closing_) {
        frames_.push_back(Frame{name_, tag_, false});
      }
      return State::data;
    case HtmlTag::select:
      in_select_ = !in_select_;  // a <select> inside a select closes it
      return State::data;
    case HtmlTag::frameset:
      after_frameset_ = true;
      return State::data;
    case HtmlTag::template_:
      if (in_select_) bail_out(HtmlBailout::ambiguous_select);
      return State::data;
    case HtmlTag::script:
      text_state = State::script_data;
      break;
    case HtmlTag::textarea:
    case HtmlTag::title:
      text_state = State::rcdata;
      break;
    case HtmlTag::style:
    case HtmlTag::xmp:
    case HtmlTag::iframe:
    case HtmlTag::noembed:
    case HtmlTag::noframes:
    case HtmlTag::noscript:
      text_state = State::rawtext;
      break;
    case HtmlTag::plaintext:
      text_state = State::plaintext;
      break;
    default:
      return State::data;
  }
  // Inside <select> only <script> switches in every parser version; after <frameset> only
  // <noframes> does: elsewhere the tag may or may not be ignored.
  if (in_select_ && tag_ != HtmlTag::script) {
    bail_out(HtmlBailout::ambiguous_select);
  } else if (after_frameset_ && tag_ != HtmlTag::noframes) {
    bail_out(HtmlBailout::ambiguous_frameset);
  }
  last_start_tag_ = name_;
  return text_state;
}

void HtmlTokenizer::end_tag_seen() {
  if (tag_ == HtmlTag::select) in_select_ = false;
  if (frames_.empty()) return;
  for (std::size_t i = frames_.size(); i-- > 0;) {
    if (frames_[i].name == name_) {
      frames_.resize(i);
      return;
    }
  }
  // An end tag for an HTML element inside SVG/MathML may close the <svg> itself, depending on
  // elements we do not track.
  if (in_foreign_content() && !is_foreign_element(name_)) {
    bail_out(HtmlBailout::ambiguous_foreign_content);
  }
}

void HtmlTokenizer::finish_tag(std::size_t tag_end) {
  bool foreign = false;
  State next = State::data;
  // An `other` tag outside SVG/MathML neither switches the text state nor changes what is tracked.
  const bool steers = tag_ != HtmlTag::other || !frames_.empty();
  if (options_.simulate_tree_builder && steers) {
    if (end_tag_) {
      end_tag_seen();
    } else {
      next = start_tag_text_state(foreign);
    }
    if (bailout_ != HtmlBailout::none) return;
  }
  if (recording_) {
    flush_bytes(hold_);
    const HtmlTagToken token{
        tag_,      end_tag_,    self_closing_,
        foreign,   name_,       std::string_view(window_ + hold_, tag_end - hold_),
        name_end_, attributes_, absolute(hold_)};
    committed_ = tag_end;
    sink_.on_tag(token);
    recording_ = false;
  }
  release_hold();
  state_ = next;
}

void HtmlTokenizer::finish_markup_declaration(std::size_t at) {
  switch (declaration_kind_) {
    case '-':
      state_ = State::comment_start;
      comment_begin_ = absolute(at);
      break;
    case 'D':
      state_ = State::doctype;
      break;
    default:
      if (in_foreign_content()) {
        state_ = State::cdata;
      } else {  // at an integration point CDATA depends on the untracked current element
        bail_out(HtmlBailout::ambiguous_foreign_content);
      }
      break;
  }
}

// The first offset from `pos` on whose byte is in `ends` (kEndsName and maybe more), or the
// window's end. Before name_stop_end_ the loop needs no bounds check: it stops at that byte at
// the latest.
inline std::size_t HtmlTokenizer::find_name_end(std::size_t pos, std::uint8_t ends) const {
  const char* const p = window_;
  if (pos < name_stop_end_) {
    while ((byte_class(p[pos]) & ends) == 0) ++pos;
    return pos;
  }
  while (pos < window_size_ && (byte_class(p[pos]) & ends) == 0) ++pos;
  return pos;
}

// The states inside a tag after its name, in one tight loop with the state in a register: until
// the tag ends (finish_tag picks the next state) or the window does (the state waits for the next
// chunk). Without Record this is the quote-aware skip over a tag nobody asked for. The common
// path of an attribute (name, '=', quoted value) falls through from case to case without going
// round the loop; every case that can be entered that way reads its own byte.
template <bool Record>
std::size_t HtmlTokenizer::scan_tag(std::size_t pos) {
  const char* const p = window_;
  const std::size_t n = window_size_;
  State state = state_;
  const auto finish = [this](std::size_t tag_end) {
    // Most unrecorded tags steer nothing either (finish_tag would only go back to data).
    if (!Record && tag_ == HtmlTag::other && frames_.empty()) {
      release_hold();
      state_ = State::data;
    } else {
      finish_tag(tag_end);
    }
  };
  while (pos < n) {
    switch (state) {
      case State::before_attribute_name: {
        const char c = p[pos];
        if (is_whitespace(c)) {
          ++pos;
          break;
        }
        if (c == '/') {
          state = State::self_closing_start_tag;
          ++pos;
          break;
        }
        if (c == '>') {
          ++pos;
          finish(pos);
          return pos;
        }
        // Any other byte starts a name (a leading '=' belongs to it).
        if constexpr (Record) begin_attribute(pos);
        state = State::attribute_name;
        ++pos;
        [[fallthrough]];
      }
      case State::attribute_name: {
        pos = find_name_end(pos, kEndsName | kEquals);
        if (pos == n) break;
        const char end = p[pos];
        if constexpr (Record) {
          auto& attribute = attributes_.back();
          attribute.name_end = attribute.value_begin = attribute.value_end = relative(pos);
        }
        ++pos;
        if (end == '>') {
          finish(pos);
          return pos;
        }
        if (end != '=') {
          state = end == '/' ? State::self_closing_start_tag : State::after_attribute_name;
          break;
        }
        state = State::before_attribute_value;
        if (pos == n) break;
        [[fallthrough]];
      }
      case State::before_attribute_value: {
        const char c = p[pos];
        if (is_whitespace(c)) {
          ++pos;
          break;
        }
        if constexpr (Record) {
          auto& attribute = attributes_.back();
          attribute.has_value = true;
          attribute.quote = (c == '"' || c == '\'') ? c : 0;
          attribute.value_begin = attribute.value_end = relative(attribute.quote ? pos + 1 : pos);
        }
        if (c == '>') {
          ++pos;
          finish(pos);
          return pos;
        }
        if (c != '"' && c != '\'') {
          state = State::attribute_value_unquoted;
          break;
        }
        state =
            c == '"' ? State::attribute_value_double_quoted : State::attribute_value_single_quoted;
        ++pos;
        [[fallthrough]];
      }
      case State::attribute_value_double_quoted:
      case State::attribute_value_single_quoted: {
        const char quote = state == State::attribute_value_double_quoted ? '"' : '\'';
        pos = find_byte(p, pos, n, quote);
        if (pos == n) break;
        if constexpr (Record) attributes_.back().value_end = relative(pos);
        state = State::after_attribute_value_quoted;
        ++pos;
        if (pos == n) break;
        [[fallthrough]];
      }
      case State::after_attribute_value_quoted: {
        const char c = p[pos];
        if (c == '>') {
          ++pos;
          finish(pos);
          return pos;
        }
        if (c == '/') {
          state = State::self_closing_start_tag;
          ++pos;
        } else {  // whitespace is consumed, anything else starts the next name
          state = State::before_attribute_name;
          if (is_whitespace(c)) ++pos;
        }
        break;
      }
      case State::after_attribute_name: {
        const char c = p[pos];
        if (is_whitespace(c)) {
          ++pos;
        } else if (c == '/') {
          state = State::self_closing_start_tag;
          ++pos;
        } else if (c == '=') {
          state = State::before_attribute_value;
          ++pos;
        } else if (c == '>') {
          ++pos;
          finish(pos);
          return pos;
        } else {
          if constexpr (Record) begin_attribute(pos);
          state = State::attribute_name;
          ++pos;
        }
        break;
      }
      case State::attribute_value_unquoted:
        while (pos < n && (byte_class(p[pos]) & (kSpace | kGreater)) == 0) ++pos;
        if (pos == n) break;
        if constexpr (Record) attributes_.back().value_end = relative(pos);
        ++pos;
        if (p[pos - 1] == '>') {
          finish(pos);
          return pos;
        }
        state = State::before_attribute_name;
        break;
      case State::self_closing_start_tag:
        if (p[pos] == '>') {
          self_closing_ = true;
          ++pos;
          finish(pos);
          return pos;
        }
        state = State::before_attribute_name;
        break;

      default:  // not a state inside a tag
        state_ = state;
        return pos;
    }
  }
  state_ = state;
  return pos;
}

// The fast path for the bulk of a page: at a '<' in the data state, a start or end tag of a kind
// nobody asked for and that steers nothing is skipped to its end without holding, naming or
// recording anything. Only outside SVG/MathML and when `other` tags are not of interest (the
// caller checks; skipping a tag changes neither). Returns npos, having changed nothing, for every
// other case (the general states then take it from the '<').
inline std::size_t HtmlTokenizer::skip_plain_tag(std::size_t less_than) {
  const char* const p = window_;
  const std::size_t n = window_size_;
  std::size_t pos = less_than + 1;
  const bool end_tag = pos < n && p[pos] == '/';
  if (end_tag) ++pos;
  if (pos >= n || !is_alpha(p[pos])) return npos;
  const std::size_t name_begin = pos;
  // Only whitespace, '/' and '>' end a tag name: '=' and quotes are part of it.
  pos = find_name_end(pos + 1, kEndsName);
  if (pos == n) return npos;  // the name may go on in the next chunk
  if (has_known_length(pos - name_begin) && find_known_tag(p + name_begin, pos - name_begin)) {
    return npos;
  }
  const char c = p[pos];
  // finish_tag would change nothing: the state stays data and nothing is held.
  if (c == '>') return pos + 1;
  tag_ = HtmlTag::other;
  end_tag_ = end_tag;
  self_closing_ = false;
  recording_ = false;
  name_.clear();  // unused for such a tag outside foreign content
  state_ = c == '/' ? State::self_closing_start_tag : State::before_attribute_name;
  return scan_tag<false>(pos + 1);
}

void HtmlTokenizer::run() {
  const char* const p = window_;
  const std::size_t n = window_size_;
  std::size_t pos = pos_;
  // Finds the first of two bytes at or after pos (n if neither).
  const auto find_either = [&](char a, char b) {
    std::size_t i = pos;
    while (i < n && p[i] != a && p[i] != b) ++i;
    return i;
  };
  while (pos < n && bailout_ == HtmlBailout::none) {
    const char c = p[pos];
    switch (state_) {
      case State::data: {
        // Text and the tags skip_plain_tag takes, in one loop: most of a page.
        const bool skip_plain_tags =
            frames_.empty() && !options_.tags_of_interest.contains(HtmlTag::other);
        while (true) {
          pos = find_byte(p, pos, n, '<');
          if (pos == n) break;
          const std::size_t after = skip_plain_tags ? skip_plain_tag(pos) : npos;
          if (after == npos) {
            begin_hold(pos);
            state_ = State::tag_open;
            ++pos;
            break;
          }
          pos = after;
          if (pos == n || state_ != State::data) break;
        }
        break;
      }
      case State::rcdata:
      case State::rawtext:
      case State::script_data: {
        pos = find_byte(p, pos, n, '<');
        if (pos == n) break;
        begin_hold(pos);
        text_state_ = state_;
        state_ = state_ == State::script_data ? State::script_less_than : State::text_less_than;
        ++pos;
        break;
      }
      case State::plaintext:
        pos = n;
        break;
      case State::cdata: {
        pos = find_byte(p, pos, n, ']');
        if (pos == n) break;
        state_ = State::cdata_bracket;
        ++pos;
        break;
      }
      case State::cdata_bracket:
        if (c == ']') {
          state_ = State::cdata_end;
          ++pos;
        } else {
          state_ = State::cdata;
        }
        break;
      case State::cdata_end:
        if (c == '>') {
          state_ = State::data;
          ++pos;
        } else if (c == ']') {
          ++pos;
        } else {
          state_ = State::cdata;
        }
        break;

      case State::tag_open:
        if (c == '!') {
          release_hold();
          state_ = State::markup_declaration_open;
          declaration_kind_ = 0;
          declaration_matched_ = 0;
          comment_begin_ = absolute(pos + 1);
          ++pos;
        } else if (c == '/') {
          state_ = State::end_tag_open;
          ++pos;
        } else if (is_alpha(c)) {
          end_tag_ = false;
          self_closing_ = false;
          name_.clear();
          state_ = State::tag_name;
        } else if (c == '?') {
          release_hold();
          comment_begin_ = absolute(pos);
          state_ = State::bogus_comment;
        } else {
          release_hold();
          state_ = State::data;
        }
        break;
      case State::end_tag_open:
        if (is_alpha(c)) {
          end_tag_ = true;
          self_closing_ = false;
          name_.clear();
          state_ = State::tag_name;
        } else if (c == '>') {
          release_hold();
          state_ = State::data;
          ++pos;
        } else {
          release_hold();
          comment_begin_ = absolute(pos);
          state_ = State::bogus_comment;
        }
        break;
      case State::tag_name:
        if (is_whitespace(c)) {
          name_ended(pos);
          state_ = State::before_attribute_name;
          ++pos;
        } else if (c == '/') {
          name_ended(pos);
          state_ = State::self_closing_start_tag;
          ++pos;
        } else if (c == '>') {
          name_ended(pos);
          ++pos;
          finish_tag(pos);
        } else {
          const std::size_t begin = pos;
          while (++pos < n && byte_class(p[pos]) == 0) {
          }
          append_name(name_, std::string_view(p + begin, pos - begin));
        }
        break;

      case State::text_less_than:
        if (c == '/') {
          state_ = State::text_end_tag_open;
          ++pos;
        } else {
          release_hold();
          state_ = text_state_;
        }
        break;
      case State::script_less_than:
        if (c == '/') {
          state_ = State::text_end_tag_open;
          ++pos;
        } else if (c == '!') {
          release_hold();
          state_ = State::script_escape_start;
          ++pos;
        } else {
          release_hold();
          state_ = State::script_data;
        }
        break;
      case State::text_end_tag_open:
        if (is_alpha(c)) {
          end_tag_ = true;
          self_closing_ = false;
          name_.clear();
          state_ = State::text_end_tag_name;
        } else {
          release_hold();
          state_ = text_state_;
        }
        break;
      case State::text_end_tag_name:
        if (is_alpha(c) && name_.size() < last_start_tag_.size()) {
          name_ += to_lower(c);
          ++pos;
        } else if ((is_whitespace(c) || c == '/' || c == '>') && name_ == last_start_tag_) {
          name_ended(pos);
          ++pos;
          if (c == '>') {
            finish_tag(pos);
          } else {
            state_ = c == '/' ? State::self_closing_start_tag : State::before_attribute_name;
          }
        } else {  // not the appropriate end tag: the bytes were text
          release_hold();
          state_ = text_state_;
        }
        break;

      case State::script_escape_start:
      case State::script_escape_start_dash:
        if (c == '-') {
          state_ = state_ == State::script_escape_start ? State::script_escape_start_dash
                                                        : State::script_escaped_dash_dash;
          ++pos;
        } else {
          state_ = State::script_data;
        }
        break;
      case State::script_escaped:
        pos = find_either('-', '<');
        if (pos < n) {
          if (p[pos] == '-') {
            state_ = State::script_escaped_dash;
          } else {
            begin_hold(pos);
            state_ = State::script_escaped_less_than;
          }
          ++pos;
        }
        break;
      case State::script_escaped_dash:
      case State::script_escaped_dash_dash:
        if (c == '-') {
          state_ = State::script_escaped_dash_dash;
        } else if (c == '<') {
          begin_hold(pos);
          state_ = State::script_escaped_less_than;
        } else if (c == '>' && state_ == State::script_escaped_dash_dash) {
          state_ = State::script_data;
        } else {
          state_ = State::script_escaped;
        }
        ++pos;
        break;
      case State::script_escaped_less_than:
        if (c == '/') {
          text_state_ = State::script_escaped;
          state_ = State::text_end_tag_open;
          ++pos;
        } else {
          release_hold();
          double_escape_name_.clear();
          state_ = is_alpha(c) ? State::script_double_escape_start : State::script_escaped;
        }
        break;
      case State::script_double_escape_start:
      case State::script_double_escape_end: {
        const bool starting = state_ == State::script_double_escape_start;
        const State stay = starting ? State::script_escaped : State::script_double_escaped;
        if (is_whitespace(c) || c == '/' || c == '>') {
          const bool is_script = double_escape_name_ == "script";
          state_ =
              is_script ? (starting ? State::script_double_escaped : State::script_escaped) : stay;
          ++pos;
        } else if (is_alpha(c)) {
          if (double_escape_name_.size() <= 6) double_escape_name_ += to_lower(c);
          ++pos;
        } else {
          state_ = stay;
        }
        break;
      }
      case State::script_double_escaped:
        pos = find_either('-', '<');
        if (pos < n) {
          state_ = p[pos] == '-' ? State::script_double_escaped_dash
                                 : State::script_double_escaped_less_than;
          ++pos;
        }
        break;
      case State::script_double_escaped_dash:
      case State::script_double_escaped_dash_dash:
        if (c == '-') {
          state_ = State::script_double_escaped_dash_dash;
        } else if (c == '<') {
          state_ = State::script_double_escaped_less_than;
        } else if (c == '>' && state_ == State::script_double_escaped_dash_dash) {
          state_ = State::script_data;
        } else {
          state_ = State::script_double_escaped;
        }
        ++pos;
        break;
      case State::script_double_escaped_less_than:
        if (c == '/') {
          double_escape_name_.clear();
          state_ = State::script_double_escape_end;
          ++pos;
        } else {
          state_ = State::script_double_escaped;
        }
        break;

      case State::before_attribute_name:
      case State::attribute_name:
      case State::after_attribute_name:
      case State::before_attribute_value:
      case State::attribute_value_double_quoted:
      case State::attribute_value_single_quoted:
      case State::attribute_value_unquoted:
      case State::after_attribute_value_quoted:
      case State::self_closing_start_tag:
        pos = recording_ ? scan_tag<true>(pos) : scan_tag<false>(pos);
        break;

      case State::markup_declaration_open: {
        if (declaration_kind_ == 0) {
          const bool cdata_possible = options_.simulate_tree_builder && !frames_.empty();
          if (c == '-') {
            declaration_kind_ = '-';
          } else if ((c | 0x20) == 'd') {
            declaration_kind_ = 'D';
          } else if (c == '[' && cdata_possible) {
            declaration_kind_ = '[';
          } else {
            state_ = State::bogus_comment;
            break;
          }
        }
        const std::string_view expected = declaration_kind_ == '-'   ? "--"
                                          : declaration_kind_ == 'D' ? "doctype"
                                                                     : "[CDATA[";
        const char folded = declaration_kind_ == 'D' ? to_lower(c) : c;
        if (folded != expected[declaration_matched_]) {
          state_ = State::bogus_comment;
          break;
        }
        ++pos;
        if (++declaration_matched_ == expected.size()) finish_markup_declaration(pos);
        break;
      }
      case State::comment_start:
      case State::comment_start_dash:
        if (c == '-') {
          state_ = state_ == State::comment_start ? State::comment_start_dash : State::comment_end;
          ++pos;
        } else if (c == '>') {  // <!--> and <!--->
          sink_.on_comment(comment_begin_, comment_begin_);
          state_ = State::data;
          ++pos;
        } else {
          state_ = State::comment;
        }
        break;
      case State::comment: {
        pos = find_byte(p, pos, n, '-');
        if (pos == n) break;
        ++pos;
        state_ = State::comment_end_dash;
        break;
      }
      case State::comment_end_dash:
        if (c == '-') {
          state_ = State::comment_end;
          ++pos;
        } else {
          state_ = State::comment;
        }
        break;
      case State::comment_end:
        if (c == '>') {
          sink_.on_comment(comment_begin_, absolute(pos) - 2);
          state_ = State::data;
          ++pos;
        } else if (c == '!') {
          state_ = State::comment_end_bang;
          ++pos;
        } else if (c == '-') {
          ++pos;
        } else {
          state_ = State::comment;
        }
        break;
      case State::comment_end_bang:
        if (c == '-') {
          state_ = State::comment_end_dash;
          ++pos;
        } else if (c == '>') {  // --!>
          sink_.on_comment(comment_begin_, absolute(pos) - 3);
          state_ = State::data;
          ++pos;
        } else {
          state_ = State::comment;
        }
        break;
      case State::bogus_comment:
      case State::doctype: {
        pos = find_byte(p, pos, n, '>');
        if (pos == n) break;
        if (state_ == State::doctype) {
          sink_.on_doctype(comment_begin_ - 2, absolute(pos) + 1);
        } else {
          sink_.on_comment(comment_begin_, absolute(pos));
        }
        state_ = State::data;
        ++pos;
        break;
      }
    }
  }
  pos_ = pos;
}

}  // namespace veil::proxy
