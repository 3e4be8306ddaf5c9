// ember-kit: the backend conformance kit (tools/kit/README.md).
#include "ember/kit/Kit.h"

int main(int argc, char **argv) { return ember::kit::runKit(argc, argv); }
