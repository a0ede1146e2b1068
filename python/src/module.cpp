// The _flashcheck extension: thin bindings of the C++ library (one oracle,
// one accuracy rule, one set of generators); the package flashcheck/ wraps it.
#include "bindings.hpp"

NB_MODULE(_flashcheck, m) {
  m.doc() = "flashcheck C++ core: Problem, oracle, accuracy rule, RapidCheck search, case files";
  flashcheck::py::bind_problem(m);
  flashcheck::py::bind_oracle(m);
  flashcheck::py::bind_search(m);
  flashcheck::py::bind_cases(m);
  flashcheck::py::bind_sim(m);
}
