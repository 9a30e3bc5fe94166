// `veil anonymise`: the offline log anonymiser and live piped logger. Wiring only: options →
// settings, inputs and outputs → the streaming pipeline with one LineAnonymiser per worker thread.
#include <unistd.h>

#include <fmt/core.h>
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "command.hpp"
#include "veil/anonymiser/address_anonymiser.hpp"
#include "veil/anonymiser/io.hpp"
#include "veil/anonymiser/line_anonymiser.hpp"
#include "veil/anonymiser/pipeline.hpp"
#include "veil/anonymiser/settings.hpp"
#include "veil/policies/loader.hpp"

namespace veil::app {
namespace {

namespace po = boost::program_options;
using namespace veil::anonymiser;

constexpr std::size_t kFormatSample = 16 * 1024;
constexpr int kUnparsedLinesReported = 5;

constexpr const char* kUsage = R"(Usage: veil anonymise [FILE...] [options]

Anonymises web server access logs: every IP address (client field, X-Forwarded-For and Forwarded
lists, request target, query string, referrer) and personal data in URLs (e-mail addresses, UK
postcodes, phone, National Insurance and NHS numbers). Reads the FILEs in turn, or standard input
when none is given or FILE is "-"; gzip input is decompressed. Output has exactly the input's lines
in the input's order.

Output:
  -o, --output OUT       write to OUT (gzip when it ends in .gz) instead of standard output;
                         appended to when the input is a pipe (piped logger), replaced otherwise
  --in-place             replace each FILE by its anonymised form (atomically: temporary file,
                         fsync, rename; on failure the original stays untouched)

Anonymisation:
  --format F             auto (default: detect per input), combined, common, w3c, json, plain
  --method M             truncate (default), hash, cryptopan, ipcrypt, ipcrypt-pfx
  --ipv4-prefix N        leading IPv4 bits truncate keeps (default 24)
  --ipv6-prefix N        leading IPv6 bits truncate keeps (default 48)
  -4, --ipv4mask N       anonip's form: IPv4 bits to clear (prefix 32-N)
  -6, --ipv6mask N       anonip's form: IPv6 bits to clear (prefix 128-N)
  --key-file F           hex master key; required by every method but truncate
  --rotate R             never (default) or daily: a key per day, derived from each line's date
  --scrub RULES          comma list of PII rules (email,postcode,phone,nino,nhs), or none;
                         default all
  --json-fields PATHS    comma list of extra dotted JSON paths holding client addresses
  --threads N            worker threads (default: one per core)
  --policy FILE          start from the anonymise: section of a policy file; flags override it

  -h, --help             this help

SIGUSR1 reopens OUT (after logrotate moved it). Exit status: 0 success, 1 runtime failure,
2 usage error.
)";

// A command-line mistake: reported with a pointer to --help, exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

volatile std::sig_atomic_t g_reopen_requested = 0;

void request_reopen(int) {
  g_reopen_requested = 1;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, comma - start);
    if (!item.empty()) items.push_back(std::move(item));
    start = comma + 1;
  }
  return items;
}

struct Options {
  std::vector<std::string> inputs;
  std::optional<std::string> output;
  bool in_place = false;
  AnonymiseSettings settings;
};

int prefix_from(const po::variables_map& values, const char* prefix_flag, const char* mask_flag,
                int bits, int current) {
  if (values.count(prefix_flag) && values.count(mask_flag)) {
    throw UsageError(
        fmt::format("--{} and --{} say the same thing: give one", prefix_flag, mask_flag));
  }
  int prefix = current;
  if (values.count(prefix_flag)) prefix = values[prefix_flag].as<int>();
  if (values.count(mask_flag)) prefix = bits - values[mask_flag].as<int>();
  if (prefix < 0 || prefix > bits) {
    throw UsageError(values.count(mask_flag)
                         ? fmt::format("--{} must be between 0 and {}", mask_flag, bits)
                         : fmt::format("--{} must be between 0 and {}", prefix_flag, bits));
  }
  return prefix;
}

// A policy file that cannot be used: its diagnostics are printed, exit status 1.
struct PolicyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The anonymise: section of a policy file, after printing its warnings (or errors).
AnonymiseSettings policy_settings(const std::string& path) {
  auto loaded = policies::load_policy(path);
  for (const auto& diagnostic : loaded.diagnostics) {
    std::fprintf(stderr, "veil anonymise: %s\n", policies::to_string(diagnostic).c_str());
  }
  if (!loaded.ok()) throw PolicyError(fmt::format("policy {} has errors (see above)", path));
  return loaded.policy->anonymise;
}

// Returns nullopt after printing the help.
std::optional<Options> parse_options(int argc, char** argv) {
  po::options_description described;
  described.add_options()                        //
      ("help,h", "")                             //
      ("output,o", po::value<std::string>())     //
      ("in-place", po::bool_switch())            //
      ("format", po::value<std::string>())       //
      ("method", po::value<std::string>())       //
      ("ipv4-prefix", po::value<int>())          //
      ("ipv6-prefix", po::value<int>())          //
      ("ipv4mask,4", po::value<int>())           //
      ("ipv6mask,6", po::value<int>())           //
      ("key-file", po::value<std::string>())     //
      ("rotate", po::value<std::string>())       //
      ("scrub", po::value<std::string>())        //
      ("json-fields", po::value<std::string>())  //
      ("policy", po::value<std::string>())       //
      ("threads", po::value<int>())              //
      ("input", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("input", -1);
  po::variables_map values;
  try {
    po::store(po::command_line_parser(argc, argv).options(described).positional(positional).run(),
              values);
    po::notify(values);
  } catch (const po::error& error) {
    throw UsageError(error.what());
  }
  if (values.count("help")) {
    std::fputs(kUsage, stdout);
    return std::nullopt;
  }

  Options options;
  if (values.count("policy"))
    options.settings = policy_settings(values["policy"].as<std::string>());
  AnonymiseSettings& settings = options.settings;
  if (values.count("input")) options.inputs = values["input"].as<std::vector<std::string>>();
  if (values.count("output")) options.output = values["output"].as<std::string>();
  options.in_place = values["in-place"].as<bool>();

  if (values.count("format")) {
    auto format = parse_log_format(values["format"].as<std::string>());
    if (!format) {
      throw UsageError(
          fmt::format("unknown --format '{}' (expected auto, combined, common, w3c, "
                      "json or plain)",
                      values["format"].as<std::string>()));
    }
    settings.format = *format;
  }
  if (values.count("method")) {
    auto method = parse_method(values["method"].as<std::string>());
    if (!method) {
      throw UsageError(
          fmt::format("unknown --method '{}' (expected truncate, hash, cryptopan, "
                      "ipcrypt or ipcrypt-pfx)",
                      values["method"].as<std::string>()));
    }
    settings.method = *method;
  }
  settings.ipv4_prefix = prefix_from(values, "ipv4-prefix", "ipv4mask", 32, settings.ipv4_prefix);
  settings.ipv6_prefix = prefix_from(values, "ipv6-prefix", "ipv6mask", 128, settings.ipv6_prefix);
  if (values.count("key-file")) settings.key_file = values["key-file"].as<std::string>();
  if (values.count("rotate")) {
    auto rotation = parse_rotation(values["rotate"].as<std::string>());
    if (!rotation) {
      throw UsageError(fmt::format("unknown --rotate '{}' (expected never or daily)",
                                   values["rotate"].as<std::string>()));
    }
    settings.rotation = *rotation;
  }
  if (values.count("scrub")) {
    std::string rules = values["scrub"].as<std::string>();
    settings.scrub = rules == "none" ? std::vector<std::string>{} : split_list(rules);
  }
  try {
    selected_pii_rules(settings);
  } catch (const std::invalid_argument& error) {
    throw UsageError(fmt::format("--scrub: {}", error.what()));
  }
  if (values.count("json-fields")) {
    for (auto& field : split_list(values["json-fields"].as<std::string>())) {
      settings.json_fields.push_back(std::move(field));
    }
  }
  if (values.count("threads")) {
    int threads = values["threads"].as<int>();
    if (threads < 0 || threads > 1024) throw UsageError("--threads must be between 0 and 1024");
    settings.threads = static_cast<unsigned>(threads);
  }

  if (settings.method != Method::truncate && settings.key_file.empty()) {
    throw UsageError(
        fmt::format("--method {} needs --key-file (a file holding {} random bytes as hex)",
                    to_string(settings.method), key_bytes_for(settings.method)));
  }
  if (options.in_place) {
    if (options.output) throw UsageError("--in-place and -o exclude each other");
    if (options.inputs.empty()) throw UsageError("--in-place needs FILE arguments");
    if (std::find(options.inputs.begin(), options.inputs.end(), "-") != options.inputs.end()) {
      throw UsageError("--in-place cannot replace standard input");
    }
  }
  if (options.inputs.empty()) options.inputs.push_back("-");
  if (options.output) {
    for (const auto& input : options.inputs) {
      if (input == *options.output || (input != "-" && same_file(input, *options.output))) {
        throw UsageError(fmt::format(
            "-o {} is also an input: it would be overwritten while read (use --in-place)",
            *options.output));
      }
    }
  }
  return options;
}

// A LineAnonymiser as the pipeline's transformer; flags the lines that did not match their format.
class AnonymisingTransformer final : public LineTransformer {
 public:
  AnonymisingTransformer(const AnonymiseSettings& settings, LogFormat format, const MasterKey& key)
      : anonymiser_(settings, format, key) {}
  // For another worker: shares the prototype's compiled PII rules.
  explicit AnonymisingTransformer(const LineAnonymiser& prototype)
      : anonymiser_(prototype.clone()) {}

  void set_state(std::string_view state) override { anonymiser_.set_state(state); }
  bool transform_line(std::string_view line, std::string& out) override {
    std::uint64_t unparsed_before = anonymiser_.stats().unparsed;
    anonymiser_.anonymise_line(line, out);
    return anonymiser_.stats().unparsed == unparsed_before;
  }
  const LineStats& stats() const { return anonymiser_.stats(); }
  const LineAnonymiser& anonymiser() const { return anonymiser_; }

 private:
  LineAnonymiser anonymiser_;
};

// The progress line on a terminal: redrawn at most ten times a second, erased at the end.
class ProgressBar {
 public:
  ProgressBar(const InputFile& input, bool enabled) : input_(input), enabled_(enabled) {}
  ~ProgressBar() {
    if (drawn_) std::fputs("\r\033[K", stderr);
  }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update() {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    drawn_ = true;
    double total = static_cast<double>(std::max<std::uint64_t>(input_.size(), 1));
    double done = static_cast<double>(input_.position());
    double fraction = std::min(done / total, 1.0);
    constexpr int kWidth = 30;
    int filled = static_cast<int>(fraction * kWidth);
    double seconds = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r\033[K%s [%s%s] %3.0f%% %.1f/%.1f MB %.0f MB/s", input_.name().c_str(),
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                 fraction * 100, done / 1e6, total / 1e6, seconds > 0 ? done / 1e6 / seconds : 0.0);
    std::fflush(stderr);
  }

 private:
  const InputFile& input_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_;
};

class AnonymiseRun {
 public:
  AnonymiseRun(const Options& options, MasterKey key) : options_(options), key_(std::move(key)) {
    unsigned threads = options.settings.threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    threads_ = threads;
  }

  void run() {
    std::unique_ptr<OutputFile> shared_output;
    for (const auto& path : options_.inputs) {
      InputFile input(path);
      if (options_.in_place) {
        auto replacement = OutputFile::replacing(path);
        process(input, *replacement);
        replacement->commit();
        continue;
      }
      if (!shared_output) shared_output = open_output(input.live());
      process(input, *shared_output);
    }
    if (shared_output) shared_output->commit();
  }

  LineStats stats() const {
    LineStats total;
    for (const auto& [format, transformers] : transformers_) {
      for (const auto& transformer : transformers) total += transformer->stats();
    }
    return total;
  }
  std::uint64_t bytes_read() const { return bytes_read_; }
  std::uint64_t lines() const { return lines_; }

 private:
  std::unique_ptr<OutputFile> open_output(bool live_input) {
    if (!options_.output) return OutputFile::standard_output();
    // A piped logger restarted with its web server must not erase what it wrote before.
    return OutputFile::open(*options_.output,
                            live_input ? OutputFile::Mode::append : OutputFile::Mode::truncate);
  }

  std::vector<LineTransformer*> transformers_for(LogFormat format) {
    auto& owned = transformers_[format];
    if (owned.empty()) {
      owned.push_back(std::make_unique<AnonymisingTransformer>(options_.settings, format, key_));
      while (owned.size() < threads_) {
        owned.push_back(std::make_unique<AnonymisingTransformer>(owned.front()->anonymiser()));
      }
    }
    std::vector<LineTransformer*> pointers;
    for (auto& transformer : owned) pointers.push_back(transformer.get());
    return pointers;
  }

  void process(InputFile& input, OutputFile& output) {
    LogFormat format = options_.settings.format;
    if (format == LogFormat::automatic) format = detect_format(input.peek(kFormatSample));
    auto transformers = transformers_for(format);

    ProgressBar progress(input, input.regular_file() && ::isatty(STDERR_FILENO));
    std::uint64_t unparsed = 0;
    PipelineCallbacks callbacks;
    callbacks.carry_state = [format](std::string_view block, std::string state) {
      return LineAnonymiser::carry_state(format, block, std::move(state));
    };
    callbacks.on_flagged_line = [&](std::uint64_t line_number) {
      if (++unparsed <= kUnparsedLinesReported) {
        std::fprintf(stderr,
                     "veil anonymise: %s:%llu: not a %s line; every address-looking token in it "
                     "was anonymised\n",
                     input.name().c_str(), static_cast<unsigned long long>(line_number),
                     std::string(to_string(format)).c_str());
      }
    };
    callbacks.between_blocks = [&output] {
      if (g_reopen_requested) {
        g_reopen_requested = 0;
        output.reopen();
      }
    };
    callbacks.on_block_read = [&progress](std::uint64_t) { progress.update(); };
    PipelineResult result = run_pipeline(input, output, transformers, {}, callbacks);
    if (unparsed > kUnparsedLinesReported) {
      std::fprintf(stderr, "veil anonymise: %s: %llu more lines were not %s lines\n",
                   input.name().c_str(),
                   static_cast<unsigned long long>(unparsed - kUnparsedLinesReported),
                   std::string(to_string(format)).c_str());
    }
    bytes_read_ += result.bytes_read;
    lines_ += result.lines;
  }

  const Options& options_;
  MasterKey key_;
  unsigned threads_ = 1;
  std::map<LogFormat, std::vector<std::unique_ptr<AnonymisingTransformer>>> transformers_;
  std::uint64_t bytes_read_ = 0;
  std::uint64_t lines_ = 0;
};

void install_signal_handlers() {
  struct sigaction reopen {};
  reopen.sa_handler = request_reopen;
  sigemptyset(&reopen.sa_mask);
  reopen.sa_flags = SA_RESTART;
  ::sigaction(SIGUSR1, &reopen, nullptr);
  // Past a file size limit, write() should fail (and the replacement be discarded), not kill us.
  ::signal(SIGXFSZ, SIG_IGN);
  remove_temporary_files_on_termination_signals();
}

int anonymise_main(int argc, char** argv) {
  std::optional<Options> options;
  try {
    options = parse_options(argc, argv);
  } catch (const UsageError& error) {
    std::fprintf(stderr, "veil anonymise: %s\nTry 'veil anonymise --help'.\n", error.what());
    return 2;
  } catch (const PolicyError& error) {
    std::fprintf(stderr, "veil anonymise: %s\n", error.what());
    return 1;
  }
  if (!options) return 0;
  install_signal_handlers();

  try {
    MasterKey key;
    const AnonymiseSettings& settings = options->settings;
    if (settings.method != Method::truncate) {
      std::vector<std::string> warnings;
      key = load_key_file(settings.key_file, key_bytes_for(settings.method), &warnings);
      for (const auto& warning : warnings) {
        std::fprintf(stderr, "veil anonymise: warning: %s\n", warning.c_str());
      }
    }
    auto started = std::chrono::steady_clock::now();
    AnonymiseRun run(*options, std::move(key));
    run.run();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    LineStats stats = run.stats();
    double megabytes = static_cast<double>(run.bytes_read()) / 1e6;
    std::fprintf(stderr,
                 "veil anonymise: %llu lines, %llu addresses anonymised, %llu PII scrubbed, %llu "
                 "unparsed lines; %.2f MB in %.2f s (%.0f MB/s)\n",
                 static_cast<unsigned long long>(run.lines()),
                 static_cast<unsigned long long>(stats.addresses),
                 static_cast<unsigned long long>(stats.pii),
                 static_cast<unsigned long long>(stats.unparsed), megabytes, seconds,
                 seconds > 0 ? megabytes / seconds : 0.0);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "veil anonymise: %s\n", error.what());
    return 1;
  }
}

const CommandRegistration registration{"anonymise", "anonymise web server access logs",
                                       anonymise_main};

}  // namespace
}  // namespace veil::app
