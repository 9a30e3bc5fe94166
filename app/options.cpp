#include "options.hpp"

#include <cstdio>
#include <iostream>

namespace veil::app {

namespace po = boost::program_options;

std::optional<int> parse_options(std::string_view command, int argc, char** argv,
                                 const po::options_description& options,
                                 po::variables_map& values) {
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), values);
    po::notify(values);
  } catch (const po::error& error) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(command.size()), command.data(),
                 error.what());
    return 2;
  }
  if (values.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  return std::nullopt;
}

}  // namespace veil::app
