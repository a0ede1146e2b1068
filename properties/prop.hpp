// flashcheck::prop: rc::prop from rapidcheck/catch.h, made replayable.
//
// rapidcheck/catch.h checks a property without an id, so its failures print
// no RC_PARAMS line and RC_PARAMS="reproduce=..." cannot select them. This
// version gives each property the id "<Catch test case>/<description>" and, on
// failure, prints the counterexample, the seed, and the exact line that
// replays the shrunk case:
//   RC_PARAMS="seed=... reproduce=..." <suite binary> "<test case>"
// Use it exactly like rc::prop: one plain lambda per property.
#pragma once
#include <iostream>
#include <sstream>
#include <string>
#include <utility>

#include <catch2/catch.hpp>
#include <rapidcheck.h>

namespace flashcheck {

template <typename Testable>
void prop(const std::string& description, Testable&& testable) {
  SECTION(description) {
    const std::string test_case = Catch::getResultCapture().getCurrentTestName();
    rc::detail::TestMetadata metadata;
    metadata.id = test_case + "/" + description;
    metadata.description = description;
    const auto result = rc::detail::checkTestable(std::forward<Testable>(testable), metadata);
    rc::detail::FailureResult failure;
    if (result.match(failure)) {
      rc::detail::Configuration replay;
      replay.testParams = rc::detail::configuration().testParams;
      replay.reproduce.emplace(metadata.id, failure.reproduce);
      const std::string line = "RC_PARAMS=\"" + rc::detail::configToMinimalString(replay) +
                               "\" <suite binary> \"" + test_case + "\"";
      // Unwrapped on stdout (Catch wraps INFO text at 80 columns, which would
      // break the line), then the counterexample through Catch.
      std::cout << "\n[flashcheck] property failed: " << metadata.id
                << "\n[flashcheck] seed: " << replay.testParams.seed
                << "\n[flashcheck] replay the shrunk case with:\n" << line << "\n" << std::flush;
      std::ostringstream ss;
      rc::detail::printResultMessage(result, ss);
      ss << "\nseed: " << replay.testParams.seed << " (replay line printed above)";
      INFO(ss.str());
      FAIL();
    } else if (!result.template is<rc::detail::SuccessResult>()) {
      std::ostringstream ss;
      rc::detail::printResultMessage(result, ss);  // gave up: too many discards
      INFO(ss.str());
      FAIL();
    } else {
      SUCCEED();
    }
  }
}

}  // namespace flashcheck
