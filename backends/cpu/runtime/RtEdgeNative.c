/* RtEdge.c linked natively into the plugin under the ember_rte_ prefix (see
 * RtEdge.h): the JIT's kernels=edge, and the compiler's workspace sizes. */
#define EMBER_RT_NAME(x) ember_rte_##x
#include "RtEdge.c"
