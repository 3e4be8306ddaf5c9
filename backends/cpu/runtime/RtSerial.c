/* Serial ember_rt_parallel_for for bundles: one worker runs everything. An
 * application that wants threads links its own definitions of these two
 * functions instead (they are weak). */
#include "RtAbi.h"

__attribute__((weak)) void ember_rt_parallel_for(ember_rt_task fn, void *ctx,
                                                 int64_t n) {
  if (n > 0)
    fn(ctx, 0, n, 0);
}

__attribute__((weak)) int64_t ember_rt_num_workers(void) { return 1; }
