/* RtPortable.c linked natively into the plugin under the ember_rtp_ prefix
 * (see RtPortable.h). */
#define EMBER_RT_NAME(x) ember_rtp_##x
#include "RtPortable.c"
