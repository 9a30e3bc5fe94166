// Command-line parsing shared by the subcommands that describe their flags with
// boost::program_options.
#pragma once

#include <boost/program_options.hpp>

#include <optional>
#include <string_view>

namespace veil::app {

// Parses argv into `values`. Returns the exit code when the command should stop here: 0 after
// printing `options` for --help/-h (the description must define "help,h"), 2 after printing
// "<command>: <what is wrong>" for a usage error. Returns nothing when the command should go on.
std::optional<int> parse_options(std::string_view command, int argc, char** argv,
                                 const boost::program_options::options_description& options,
                                 boost::program_options::variables_map& values);

}  // namespace veil::app
