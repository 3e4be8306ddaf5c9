// Escaping text for XML attributes and content (JUnit reports of
// `ember conform` and the plugin conformance kit).
#pragma once

#include <string>

namespace ember {

// <, >, &, " become entities, a newline &#10; (kept inside attributes);
// other control characters except tab are dropped (not allowed in XML 1.0).
std::string xmlEscape(const std::string &s);

} // namespace ember
