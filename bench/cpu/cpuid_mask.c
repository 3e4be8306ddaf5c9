/*
 * cpuid_mask.c - run a process as if its x86 CPU lacked some vector
 * extensions, for benchmarks on a host that has them.
 *
 * Built as a shared object and preloaded (bench/cpu/masked_host.py does
 * both):
 *
 *   cc -O2 -shared -fPIC -o cpuid_mask.so bench/cpu/cpuid_mask.c
 *   EMBER_CPUID_MASK=avx2 LD_PRELOAD=./cpuid_mask.so COMMAND ...
 *
 * Libraries choose their kernels from the CPUID instruction (ONNX Runtime's
 * MLAS, LLVM's host CPU features, GCC's __builtin_cpu_supports, numpy),
 * and none offers a switch that masks AVX-512 for the whole process. Linux
 * lets a thread make CPUID fault (arch_prctl ARCH_SET_CPUID, on CPUs with
 * CPUID faulting: the "cpuid_fault" flag of /proc/cpuinfo). This object
 * turns the fault on when it is loaded (before the program's own
 * libraries look), answers each faulting CPUID in a SIGSEGV handler with
 * the real values minus the masked feature bits, and steps over the
 * instruction. The setting is inherited by threads and forks and reset by
 * execve, where the preload sets it again.
 *
 * Profiles (EMBER_CPUID_MASK):
 *   avx2      AVX2 + FMA only: every AVX-512 subset, AMX, AVX-VNNI,
 *             AVX-VNNI-INT8/INT16, AVX-IFMA, AVX-NE-CONVERT, AVX10 off
 *             (an AMD EPYC before Zen 4, Intel client cores before Alder
 *             Lake)
 *   avxvnni   the same with AVX-VNNI kept (Alder Lake and later client
 *             cores, Zen 5 client parts)
 *
 * XGETBV cannot be trapped, so XCR0 still reports the AVX-512 and AMX
 * register states; every library above requires the CPUID bit as well.
 * Programs that install their own SIGSEGV handler keep it: sigaction and
 * signal calls for SIGSEGV are recorded here and the recorded handler runs
 * for every fault that is not a CPUID instruction.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef ARCH_GET_CPUID
#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012
#endif

/* Bits cleared per (leaf, subleaf, register). */
struct Mask {
  uint32_t leaf, subleaf;
  int reg; /* 0 eax, 1 ebx, 2 ecx, 3 edx */
  uint32_t bits;
};

#define BIT(n) (1u << (n))

/* Leaf 7.0 EBX: AVX512F 16, DQ 17, IFMA 21, PF 26, ER 27, CD 28, BW 30,
   VL 31. ECX: VBMI 1, VBMI2 6, VNNI 11, BITALG 12, VPOPCNTDQ 14. EDX:
   4VNNIW 2, 4FMAPS 3, VP2INTERSECT 8, AMX-BF16 22, AVX512-FP16 23,
   AMX-TILE 24, AMX-INT8 25. Leaf 7.1 EAX: AVX-VNNI 4, AVX512-BF16 5,
   AMX-FP16 21, AVX-IFMA 23. EDX: AVX-VNNI-INT8 4, AVX-NE-CONVERT 5,
   AMX-COMPLEX 8, AVX-VNNI-INT16 10, AVX10 19. */
static const struct Mask kAvx512[] = {
    {7, 0, 1,
     BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) |
         BIT(31)},
    {7, 0, 2, BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14)},
    {7, 0, 3, BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25)},
    {7, 1, 0, BIT(5) | BIT(21) | BIT(23)},
    {7, 1, 3, BIT(4) | BIT(5) | BIT(8) | BIT(10) | BIT(19)},
};
static const struct Mask kAvxVnni = {7, 1, 0, BIT(4)};

static int gProfile;              /* 0 none, 1 avx2, 2 avxvnni */
static struct sigaction gChained; /* the program's SIGSEGV handler */
static int (*gRealSigaction)(int, const struct sigaction *, struct sigaction *);

static long setCpuidEnabled(int on) {
  return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on);
}

static void applyMasks(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  size_t n = sizeof(kAvx512) / sizeof(kAvx512[0]);
  for (size_t i = 0; i < n; ++i)
    if (kAvx512[i].leaf == leaf && kAvx512[i].subleaf == sub)
      r[kAvx512[i].reg] &= ~kAvx512[i].bits;
  if (gProfile == 1 && leaf == kAvxVnni.leaf && sub == kAvxVnni.subleaf)
    r[kAvxVnni.reg] &= ~kAvxVnni.bits;
}

static void chain(int sig, siginfo_t *info, void *ctx) {
  struct sigaction prev = gChained;
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction) {
      prev.sa_sigaction(sig, info, ctx);
      return;
    }
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
    return;
  }
  /* Default action: restore it; returning re-executes the faulting
     instruction, which now ends the process as it would have. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  gRealSigaction(SIGSEGV, &dfl, NULL);
}

static void onSegv(int sig, siginfo_t *info, void *ctx) {
  ucontext_t *uc = (ucontext_t *)ctx;
  greg_t *g = uc->uc_mcontext.gregs;
  const unsigned char *ip = (const unsigned char *)g[REG_RIP];
  if (info->si_code != SI_KERNEL || ip[0] != 0x0f || ip[1] != 0xa2) {
    chain(sig, info, ctx);
    return;
  }
  uint32_t leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX];
  uint32_t r[4];
  setCpuidEnabled(1);
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
  setCpuidEnabled(0);
  applyMasks(leaf, sub, r);
  g[REG_RAX] = r[0];
  g[REG_RBX] = r[1];
  g[REG_RCX] = r[2];
  g[REG_RDX] = r[3];
  g[REG_RIP] += 2;
}

/* The program's SIGSEGV handlers are recorded, not installed. */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (!gRealSigaction)
    gRealSigaction = dlsym(RTLD_NEXT, "sigaction");
  if (sig != SIGSEGV || !gProfile)
    return gRealSigaction(sig, act, old);
  if (old)
    *old = gChained;
  if (act)
    gChained = *act;
  return 0;
}

sighandler_t signal(int sig, sighandler_t handler) {
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  act.sa_flags = SA_RESTART;
  if (sigaction(sig, &act, &old) != 0)
    return SIG_ERR;
  if (old.sa_flags & SA_SIGINFO) { /* (the same pointer, another type) */
    sighandler_t h;
    memcpy(&h, &old.sa_sigaction, sizeof h);
    return h;
  }
  return old.sa_handler;
}

__attribute__((constructor)) static void init(void) {
  gRealSigaction = dlsym(RTLD_NEXT, "sigaction");
  const char *p = getenv("EMBER_CPUID_MASK");
  if (!p || !*p)
    return;
  if (!strcmp(p, "avx2"))
    gProfile = 1;
  else if (!strcmp(p, "avxvnni"))
    gProfile = 2;
  else {
    fprintf(stderr,
            "error: EMBER_CPUID_MASK=%s is not avx2 or avxvnni "
            "(cpuid_mask.so)\n",
            p);
    _exit(2);
  }
  memset(&gChained, 0, sizeof gChained);
  gChained.sa_handler = SIG_DFL;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = onSegv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (gRealSigaction(SIGSEGV, &sa, NULL) != 0 || setCpuidEnabled(0) != 0) {
    fprintf(stderr, "error: this CPU or kernel cannot make CPUID fault "
                    "(arch_prctl ARCH_SET_CPUID; cpuid_mask.so)\n");
    _exit(2);
  }
}
