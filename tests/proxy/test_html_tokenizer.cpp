#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "test_html_support.hpp"
#include "veil/proxy/html_tokenizer.hpp"

using namespace veil::proxy;
using veil::proxy::test::all_tags;
using veil::proxy::test::chunk_cuts;
using veil::proxy::test::tokenize;

namespace {

std::vector<std::string> tokens_of(std::string_view input,
                                   HtmlTokenizerOptions options = all_tags()) {
  auto sink = tokenize(input, {}, options);
  REQUIRE(sink.bytes == input);
  return sink.tokens;
}

// The tokens of `input` are the same for every single split point and for byte-by-byte feeding,
// and the bytes handed on always equal the input.
void check_split_invariance(std::string_view input, HtmlTokenizerOptions options = all_tags()) {
  const auto whole = tokenize(input, {}, options);
  REQUIRE(whole.bytes == input);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    const auto split = tokenize(input, {cut}, options);
    INFO("split at " << cut);
    REQUIRE(split.bytes == input);
    REQUIRE(split.tokens == whole.tokens);
  }
  const auto bytewise = tokenize(input, chunk_cuts(input.size(), 1), options);
  REQUIRE(bytewise.bytes == input);
  REQUIRE(bytewise.tokens == whole.tokens);
}

using Tokens = std::vector<std::string>;
using namespace std::literals;

constexpr std::string_view kTrickyPage = R"html(<!DOCTYPE html>
<HTML lang=en-GB><head><meta charset="utf-8"><title>Bins &amp; <b>recycling</b></title>
<link rel=preconnect href='https://fonts.gstatic.com' crossorigin>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-1&amp;l=dataLayer"></script>
<script>var s = "<iframe src=x>"; if (a<b && c>d) { document.write('</scr' + 'ipt>'); }</script>
<script><!--<script>x</script>--></script><SCRIPT type=module>  </ScRiPt >
<style>a[href^="</style"] {} p > i { content: "<img src=q>" }</style>
<!-- <iframe src="https://www.youtube.com/embed/a"> --><!--> <!---> <!-- a --!>
<?xml bogus <img src=hidden>?> </ > </3 x> <![CDATA[ <img src=cd> ]]>
</head><body class="a b" data-x='1 > 0'>
<textarea><iframe src=inside></textarea><xmp><img src=xmp></xmp><noscript><img src=ns></noscript>
<iframe src=//www.youtube.com/embed/xyz?rel=0&amp;autoplay=1 width=560 height=315 allowfullscreen></iframe>
<IMG SRC="/pixel.gif" src=dup ALT=&quot;hi&quot; /><image src=renamed>
<svg><style><img src=svg-breakout></style><![CDATA[<img src=svg-cdata>]]></svg>
<math><mi><style><img src=mathml-rawtext></style></mi></math>
<video><source src=a.mp4 type='video/mp4'></video><audio src=b.ogg></audio>
<object data=x.swf><embed src=y.swf></object>
<p>1 < 2 &lt; 3</p><a href="x"title=y>t</a>
</body></html>
)html";

}  // namespace

TEST_CASE("tokens of a tricky page are the same for every split point", "[html]") {
  check_split_invariance(kTrickyPage);
}

TEST_CASE("tags held across a chunk boundary that end far into the next chunk", "[html]") {
  // Tags and text longer than the pieces a held tag is finished with, of interest and not,
  // before and after the cut, and a tag starting right where a piece ends.
  std::string page = "<div title=\"" + std::string(1500, 'a') + "\">";
  page += "<img src=\"" + std::string(1200, 'b') + "\" alt=x>";
  page += "<p>" + std::string(600, 't') + "<!--" + std::string(700, '-') + "-->";
  page += "<script>" + std::string(900, 's') + "</script>";
  page += "<section data-x='" + std::string(510, 'c') + "'><iframe src=y></iframe>";
  page += kTrickyPage;
  HtmlTokenizerOptions rewriter_kinds;
  rewriter_kinds.tags_of_interest = {HtmlTag::img, HtmlTag::iframe, HtmlTag::script, HtmlTag::body};
  for (const auto& options : {all_tags(), rewriter_kinds}) {
    check_split_invariance(page, options);
    const auto whole = tokenize(page, {}, options);
    for (std::size_t cut = 0; cut + 700 <= page.size(); cut += 7) {
      INFO("cuts at " << cut << " and " << cut + 700);
      const auto split = tokenize(page, {cut, cut + 700}, options);
      REQUIRE(split.bytes == page);
      REQUIRE(split.tokens == whole.tokens);
    }
  }
}

TEST_CASE("a page fed in chunks of every size up to 64 bytes gives the same tokens", "[html]") {
  const auto whole = tokenize(kTrickyPage, {});
  for (std::size_t chunk = 1; chunk <= 64; ++chunk) {
    const auto chunked = tokenize(kTrickyPage, chunk_cuts(kTrickyPage.size(), chunk));
    INFO("chunk size " << chunk);
    REQUIRE(chunked.bytes == kTrickyPage);
    REQUIRE(chunked.tokens == whole.tokens);
  }
}

TEST_CASE("markup inside script strings, comments and raw text is not a tag", "[html]") {
  CHECK(tokens_of(R"(<script>var s = "<iframe src=x>";</script><iframe src=y>)") ==
        Tokens{"<script>", "</script>", "<iframe src=\"y\">"});
  CHECK(tokens_of("<!-- <iframe src=x> --><img src=a>") ==
        Tokens{"<!-- <iframe src=x> -->", "<img src=\"a\">"});
  CHECK(tokens_of("<textarea><iframe src=x></textarea ><img src=a>") ==
        Tokens{"<textarea>", "</textarea>", "<img src=\"a\">"});
  CHECK(tokens_of("<title><img src=x></titlex></title><img src=a>") ==
        Tokens{"<title>", "</title>", "<img src=\"a\">"});
  CHECK(tokens_of("<style>p{content:'</styl'}</style><img src=a>") ==
        Tokens{"<style>", "</style>", "<img src=\"a\">"});
  CHECK(tokens_of("<xmp><img src=x></xmp><noembed><img></noembed><noframes><img></noframes>") ==
        Tokens{"<xmp>", "</xmp>", "<noembed>", "</noembed>", "<noframes>", "</noframes>"});
  CHECK(tokens_of("<noscript><iframe src=x></noscript><iframe><img></iframe>") ==
        Tokens{"<noscript>", "</noscript>", "<iframe>", "</iframe>"});
  CHECK(tokens_of("<plaintext></plaintext><img src=a>") == Tokens{"<plaintext>"});
}

TEST_CASE("script data escapes: <!-- and a nested <script> hide the end tag", "[html]") {
  // Escaped: the first </script> still ends the script.
  CHECK(tokens_of("<script><!-- </script><img src=a>") ==
        Tokens{"<script>", "</script>", "<img src=\"a\">"});
  // Double escaped: </script> after <!--<script> only ends the inner one.
  CHECK(tokens_of("<script><!--<script>x</script>--></script><img src=a>") ==
        Tokens{"<script>", "</script>", "<img src=\"a\">"});
  CHECK(tokens_of("<script><!--<script></script><iframe src=x>") == Tokens{"<script>"});
  CHECK(tokens_of("<script><!--<scripty></script><img>") ==
        Tokens{"<script>", "</script>", "<img>"});
  CHECK(tokens_of("<script><!-- --></script x='>'><img>") ==
        Tokens{"<script>", "</script x=\">\">", "<img>"});
  CHECK(tokens_of("<SCRIPT>a</SCRipt\t><img>") == Tokens{"<script>", "</script>", "<img>"});
  CHECK(tokens_of("<script>a</scriptx></script/><img>") ==
        Tokens{"<script>", "</script />", "<img>"});
}

TEST_CASE("comments, bogus comments, doctype and CDATA end where the spec says", "[html]") {
  CHECK(tokens_of("<!--><img src=a>") == Tokens{"<!---->", "<img src=\"a\">"});
  CHECK(tokens_of("<!---><img src=a>") == Tokens{"<!---->", "<img src=\"a\">"});
  CHECK(tokens_of("<!-- a --!><img src=a>") == Tokens{"<!-- a -->", "<img src=\"a\">"});
  CHECK(tokens_of("<!-- a --!-><img> -->") == Tokens{"<!-- a --!-><img> -->"});
  CHECK(tokens_of("<!--<!-- x --->") == Tokens{"<!--<!-- x --->"});
  CHECK(tokens_of("<? <img src=x> ?>") == Tokens{"<!--? <img src=x-->"});
  CHECK(tokens_of("</3 <img src=x>") == Tokens{"<!--3 <img src=x-->"});
  CHECK(tokens_of("</><img>") == Tokens{"<img>"});
  CHECK(tokens_of("<!DocType html><img>") == Tokens{"doctype:<!DocType html>", "<img>"});
  CHECK(tokens_of("<!doc><img>") == Tokens{"<!--doc-->", "<img>"});
  // Outside SVG/MathML, CDATA is a bogus comment up to the first '>'.
  CHECK(tokens_of("<![CDATA[ <img src=x> ]]>") == Tokens{"<!--[CDATA[ <img src=x-->"});
  CHECK(tokens_of("<svg><![CDATA[ <img src=x> ]]></svg><img>") ==
        Tokens{"<svg>[foreign]", "</svg>", "<img>"});
  CHECK(tokens_of("<!-- open") == Tokens{"<!-- open-->"});
  CHECK(tokens_of("<!-- open --") == Tokens{"<!-- open -->"});
}

TEST_CASE("attributes: quoting, entities, case, duplicates, self-closing", "[html]") {
  CHECK(tokens_of(
            R"(<iframe SRC="https:&#x2F;&#47;www.youtube.com&sol;e?a=1&amp;b=2&copy=3&amp">)") ==
        Tokens{"<iframe src=\"https://www.youtube.com/e?a=1&b=2&copy=3&\">"});
  CHECK(tokens_of("<IMG src=//x.example/a.gif ALT='a \"b\"' data-x = y/>") ==
        Tokens{"<img src=\"//x.example/a.gif\" alt=\"a \"b\"\" data-x=\"y/\">"});
  CHECK(tokens_of("<img src=\"a\"/><img/src=b><img src=a SRC=b>") ==
        Tokens{"<img src=\"a\" />", "<img src=\"b\">", "<img src=\"a\" src=\"b\">"});
  CHECK(tokens_of("<img a=&notit; b=&notin; c=\"&#0;&#x110000;&#128;&#xD800\" d=&#>") ==
        Tokens{"<img a=\"&notit;\" b=\"\xE2\x88\x89\" "
               "c=\"\xEF\xBF\xBD\xEF\xBF\xBD\xE2\x82\xAC\xEF\xBF\xBD\" d=\"&#\">"});
  CHECK(tokens_of("<img src='a>b' alt=\"c>d\" =e async>") ==
        Tokens{"<img src=\"a>b\" alt=\"c>d\" =e async>"});
  CHECK(tokens_of("<img src=\"a\"alt=b>") == Tokens{"<img src=\"a\" alt=\"b\">"});
  CHECK(tokens_of("<image src=x>") == Tokens{"<img src=\"x\">"});
}

TEST_CASE("only tags of interest are held and delivered", "[html]") {
  HtmlTokenizerOptions options;
  options.tags_of_interest = {HtmlTag::iframe};
  const std::string_view input = "<div><p class=x><IFRAME src=a></iframe><img src=b>";
  const auto sink = tokenize(input, {12}, options);
  CHECK(sink.bytes == input);
  CHECK(sink.tokens == Tokens{"<iframe src=\"a\">", "</iframe>"});
}

TEST_CASE("SVG and MathML content: text states follow the tree", "[html]") {
  // In SVG, <style> is an ordinary element and <img> breaks out to HTML.
  CHECK(tokens_of("<svg><style><img src=a></style></svg>") ==
        Tokens{"<svg>[foreign]", "<style>[foreign]", "<img src=\"a\">", "</style>", "</svg>"});
  // At a MathML text integration point <style> is raw text again.
  CHECK(tokens_of("<math><mi><style><img src=a></style></mi></math><img>") ==
        Tokens{"<math>[foreign]", "<mi>[foreign]", "<style>", "</style>", "</mi>", "</math>",
               "<img>"});
  CHECK(tokens_of("<svg><title><script>x</script></title><script>y</svg>") ==
        Tokens{"<svg>[foreign]", "<title>[foreign]", "<script>", "</script>", "</title>",
               "<script>[foreign]", "</svg>"});
  CHECK(tokens_of("<svg/><style><img></style>") ==
        Tokens{"<svg />[foreign]", "<style>", "</style>"});
}

TEST_CASE("ambiguous markup makes the tokenizer bail out and pass the rest through", "[html]") {
  const std::vector<std::pair<std::string_view, std::string_view>> cases{
      {"<select><option>a<style><img src=x></style></select>", "ambiguous_select"},
      {"<select><textarea><img src=x>", "ambiguous_select"},
      {"<frameset><noscript><img src=x></noscript>", "ambiguous_frameset"},
      {"<svg><g></div><style><img src=x></style>", "ambiguous_foreign_content"},
      {"<svg><font color=red><style>", "ambiguous_foreign_content"},
      {"<math><annotation-xml encoding=text/html><style>", "ambiguous_foreign_content"},
      {"<svg><foreignObject><![CDATA[ <img src=x> ]]>", "ambiguous_foreign_content"},
  };
  for (const auto& [input, reason] : cases) {
    INFO(input);
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
      const auto sink = tokenize(input, {cut});
      REQUIRE(sink.bytes == input);
      REQUIRE(!sink.tokens.empty());
      CHECK(sink.tokens.back() == "bailout:" + std::string(reason));
      CHECK(std::find(sink.tokens.begin(), sink.tokens.end(), "<img src=\"x\">") ==
            sink.tokens.end());
    }
  }
  // <script> inside <select> switches to script data in every parser: no bail-out.
  CHECK(tokens_of("<select><script><img></script></select>") ==
        Tokens{"<select>", "<script>", "</script>", "</select>"});
  CHECK(tokens_of("<select></select><style><img></style>") ==
        Tokens{"<select>", "</select>", "<style>", "</style>"});
}

TEST_CASE("a construct over the cap, or a document over its budget, bails out", "[html]") {
  HtmlTokenizerOptions options = all_tags();
  options.max_construct_bytes = 1024;
  const std::string long_tag = "<p>x</p><img src=\"" + std::string(5000, 'a') + "\"><img src=b>";
  for (std::size_t chunk : {100u, 1000u, 4096u}) {
    const auto sink = tokenize(long_tag, chunk_cuts(long_tag.size(), chunk), options);
    CHECK(sink.bytes == long_tag);
    CHECK(sink.tokens == Tokens{"<p>", "</p>", "bailout:construct_too_large"});
  }
  // A long tag inside one chunk needs no carry-over and is fine.
  CHECK(tokenize(long_tag, {}, options).tokens.size() == 4);

  options.max_document_bytes = 20;
  const std::string_view page = "<img src=a><img src=b><img src=c>";
  const auto sink = tokenize(page, {11, 22}, options);
  CHECK(sink.bytes == page);
  CHECK(sink.tokens == Tokens{"<img src=\"a\">", "bailout:document_too_large"});
}

TEST_CASE("random and binary input passes through byte for byte", "[html]") {
  std::mt19937 random(20261123);
  const std::string_view alphabet = "<>/!-?=\"' \n\tabcdeiprstxSCRIPTframe[]&#;\0\xff"sv;
  for (int round = 0; round < 300; ++round) {
    std::string input;
    const std::size_t size = random() % 300;
    for (std::size_t i = 0; i < size; ++i) {
      if (random() % 4 == 0) {
        input += static_cast<char>(random() % 256);
      } else {
        input += alphabet[random() % alphabet.size()];
      }
    }
    if (round % 3 == 0) input = "<script>" + input;
    if (round % 3 == 1) input = "<svg>" + input;
    const auto whole = tokenize(input, {});
    REQUIRE(whole.bytes == input);
    for (std::size_t chunk : {1u, 2u, 3u, 7u, 64u}) {
      const auto chunked = tokenize(input, chunk_cuts(input.size(), chunk));
      REQUIRE(chunked.bytes == input);
      REQUIRE(chunked.tokens == whole.tokens);
    }
  }
}

TEST_CASE("tags of no interest are skipped to the same end as the full tokenizer finds", "[html]") {
  // Quotes only open a value right after '=': a '>' or a tag of interest inside a value is not
  // the end of the tag, and a quote anywhere else is part of a name or an unquoted value.
  constexpr std::string_view kSkipped =
      R"html(<div title='a > <img src=q1>' data-x="<iframe src=q2>">
<p =x"<img src=q3>" class=y><a b ="<img src=q4>"><a b= '<img src=q5>'><a b=c"<img src=q6>>
<span/="<img src=q7>"/><br/ x="<img src=q8>"><ul x='1'y="<img src=q9>"><ol x=1/ y='<img src=q10>'>
<div
title="<img src=q11>"><u x=>&lt;<img src=ok1></u><blink a="b"c='<img src=q12>'><i/><i///x='<img src=q13>'>
<custom-element-with-a-long-name data-state="<img src=q14>"></custom-element-with-a-long-name>
</div x="<img src=q15>"><IMG SRC=ok2><script>"<img src=q16>"</script><b></b/><img src=ok3>)html";
  HtmlTokenizerOptions rewriter_kinds;
  rewriter_kinds.tags_of_interest = {HtmlTag::img, HtmlTag::iframe, HtmlTag::script, HtmlTag::body};
  for (std::string_view input : {kSkipped, kTrickyPage}) {
    std::vector<std::string> expected;
    for (const std::string& token : tokenize(input, {}).tokens) {
      for (std::string_view kind : {"<img", "</img", "<iframe", "</iframe", "<script", "</script",
                                    "<body", "</body", "<!--", "doctype:"}) {
        if (token.starts_with(kind) && (token.size() == kind.size() || kind.back() == '-' ||
                                        kind.back() == ':' || !std::isalnum(token[kind.size()]))) {
          expected.push_back(token);
          break;
        }
      }
    }
    check_split_invariance(input, rewriter_kinds);
    CHECK(tokens_of(input, rewriter_kinds) == expected);
  }
  CHECK(tokens_of(kSkipped, rewriter_kinds) == Tokens{"<img src=\"ok1\">", "<img src=\"ok2\">",
                                                      "<script>", "</script>",
                                                      "<img src=\"ok3\">"});
}

TEST_CASE("every element kind is known by its name in any case, also to the fast skip", "[html]") {
  const std::pair<std::string_view, HtmlTag> kinds[] = {
      {"iframe", HtmlTag::iframe},
      {"script", HtmlTag::script},
      {"img", HtmlTag::img},
      {"embed", HtmlTag::embed},
      {"object", HtmlTag::object},
      {"link", HtmlTag::link},
      {"source", HtmlTag::source},
      {"video", HtmlTag::video},
      {"audio", HtmlTag::audio},
      {"body", HtmlTag::body},
      {"head", HtmlTag::head},
      {"meta", HtmlTag::meta},
      {"style", HtmlTag::style},
      {"textarea", HtmlTag::textarea},
      {"title", HtmlTag::title},
      {"xmp", HtmlTag::xmp},
      {"noembed", HtmlTag::noembed},
      {"noframes", HtmlTag::noframes},
      {"noscript", HtmlTag::noscript},
      {"plaintext", HtmlTag::plaintext},
      {"select", HtmlTag::select},
      {"frameset", HtmlTag::frameset},
      {"template", HtmlTag::template_},
      {"svg", HtmlTag::svg},
      {"math", HtmlTag::math},
  };
  for (const auto& [name, tag] : kinds) {
    INFO(name);
    CHECK(html_tag_from_name(name) == tag);
    // Upper case at the bytes the fast skip hashes, after tags it skips.
    std::string mixed(name);
    mixed.front() = static_cast<char>(mixed.front() - 'a' + 'A');
    mixed[1] = static_cast<char>(mixed[1] - 'a' + 'A');
    mixed.back() = static_cast<char>(mixed.back() - 'a' + 'A');
    HtmlTokenizerOptions options;
    options.tags_of_interest = {tag};
    const bool foreign = tag == HtmlTag::svg || tag == HtmlTag::math;
    std::string input = "<p class=x><table><";
    input.append(mixed).append(" id=a>");
    std::string expected = "<";
    expected.append(name).append(" id=\"a\">").append(foreign ? "[foreign]" : "");
    CHECK(tokens_of(input, options) == Tokens{expected});
  }
  for (std::string_view other : {"", "i", "table", "tbody", "section", "imgs", "scrip", "iframes",
                                 "image", "plaintexts", "customelement"}) {
    CHECK(html_tag_from_name(other) == HtmlTag::other);
  }
}
