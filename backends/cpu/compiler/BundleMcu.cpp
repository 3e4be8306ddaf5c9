// Microcontroller bundles (docs/edge.md): the constant weights as an object
// of their own for flash, the example program that runs the model through
// Arm semihosting with a static arena, its startup code and a linker
// script for the board the triple names under QEMU, and the footprint
// figures every bundle reports (flash for code and weights, RAM for the
// arena and the object's own state).
#include "Bundle.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Object/ELFObjectFile.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Triple.h>

#include <sstream>

namespace ember::cpugen {

Expected<std::string> weightsObject(const std::string &weights,
                                    llvm::TargetMachine &tm) {
  llvm::LLVMContext ctx;
  llvm::Module m("ember-weights", ctx);
  m.setDataLayout(tm.createDataLayout());
  m.setTargetTriple(tm.getTargetTriple().str());
  llvm::Constant *init = llvm::ConstantDataArray::getRaw(
      weights.empty() ? std::string(1, '\0') : weights,
      weights.empty() ? 1 : weights.size(), llvm::Type::getInt8Ty(ctx));
  auto *gv = new llvm::GlobalVariable(m, init->getType(), true,
                                      llvm::GlobalValue::ExternalLinkage, init,
                                      "ember_model_weights");
  gv->setAlignment(llvm::Align(64));
  gv->setSection(".rodata.ember_weights");
  return emitObject(m, tm);
}

void lowerRoundEven(llvm::Module &m) {
  std::vector<llvm::IntrinsicInst *> calls;
  for (llvm::Function &f : m)
    for (llvm::BasicBlock &bb : f)
      for (llvm::Instruction &i : bb)
        if (auto *ii = llvm::dyn_cast<llvm::IntrinsicInst>(&i))
          if (ii->getIntrinsicID() == llvm::Intrinsic::roundeven)
            calls.push_back(ii);
  for (llvm::IntrinsicInst *ii : calls) {
    llvm::IRBuilder<> b(ii);
    llvm::Value *x = ii->getArgOperand(0);
    llvm::Type *t = x->getType();
    // |x| < 2^(mantissa bits): adding and subtracting that power rounds
    // |x| to an integer, to nearest even (the FPU's default mode); above
    // it every float is an integer already (and infinities stay).
    const double big =
        t->getScalarType()->isDoubleTy() ? 4503599627370496.0 : 8388608.0;
    llvm::Value *c = llvm::ConstantFP::get(t, big);
    llvm::Value *ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
    llvm::Value *r = b.CreateFSub(b.CreateFAdd(ax, c), c);
    r = b.CreateSelect(b.CreateFCmpOGE(ax, c), ax, r);
    r = b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, r, x);
    ii->replaceAllUsesWith(r);
    ii->eraseFromParent();
  }
}

Expected<Footprint> objectFootprint(const std::string &object) {
  auto obj = llvm::object::ObjectFile::createObjectFile(
      llvm::MemoryBufferRef(object, "model.o"));
  if (!obj)
    return makeError(ErrorCode::Internal, "reading the bundle's object: ",
                     llvm::toString(obj.takeError()));
  Footprint f;
  for (const llvm::object::SectionRef &s : (*obj)->sections()) {
    llvm::object::ELFSectionRef e(s);
    const uint64_t flags = e.getFlags();
    if (!(flags & llvm::ELF::SHF_ALLOC))
      continue;
    const uint64_t size = s.getSize();
    if (flags & llvm::ELF::SHF_WRITE) {
      f.ramState += size;
      if (!s.isBSS())
        f.flashCode += size; // .data's initial image
    } else {
      f.flashCode += size;
    }
  }
  return f;
}

namespace {

// The board each Cortex-M triple is run on under QEMU: its machine, the
// regions code and constants go to, and RAM.
struct Board {
  const char *qemu, *cpu, *gccFlags;
  const char *memory; // the linker script's MEMORY block
  const char *vectors, *flash, *ram;
};

Board boardOf(const llvm::Triple &t) {
  if (t.getSubArch() == llvm::Triple::ARMSubArch_v8_1m_mainline)
    return {"mps3-an547",
            "cortex-m55",
            "-mcpu=cortex-m55 -mfloat-abi=hard",
            "  ITCM (rx)  : ORIGIN = 0x00000000, LENGTH = 512K\n"
            "  SRAM (rwx) : ORIGIN = 0x01000000, LENGTH = 2M\n"
            "  DTCM (rwx) : ORIGIN = 0x20000000, LENGTH = 512K\n",
            "ITCM",
            "SRAM",
            "DTCM"};
  return {"mps2-an386",
          "cortex-m4",
          "-mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16",
          "  FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 4M\n"
          "  RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = 4M\n",
          "FLASH",
          "FLASH",
          "RAM"};
}

} // namespace

std::string mcuMain(const CompiledModel &m, const llvm::Triple &t) {
  const Board b = boardOf(t);
  std::ostringstream os;
  os << "/* Example program for an Ember microcontroller bundle: runs the "
        "model\n"
        " * once on input<i>.bin (raw row-major tensors, read through Arm\n"
        " * semihosting from the host) and writes output<i>.bin. Static\n"
        " * buffers only: no heap, no libc beyond memcpy/memset.\n"
        " *   arm-none-eabi-gcc -mthumb "
     << b.gccFlags
     << " -O2 -nostartfiles \\\n"
        " *       -T link.ld main.c startup.c model.o weights.o -o model.elf\n"
        " *   qemu-system-arm -M "
     << b.qemu
     << " -nographic -semihosting-config \\\n"
        " *       enable=on,target=native -kernel model.elf\n"
        " * (link.ld and startup.c are for that QEMU board; any Cortex-M "
        "with\n"
        " * the same memory for code, constants and RAM runs this file.) */\n"
        "#include \"model.h\"\n\n"
        "#include <stddef.h>\n#include <stdint.h>\n\n"
        "#define ARENA_BYTES (EMBER_MODEL_ARENA_BYTES ? "
        "EMBER_MODEL_ARENA_BYTES "
        ": 1)\n"
        "static uint8_t arena[ARENA_BYTES] "
        "__attribute__((aligned(EMBER_MODEL_ALIGNMENT)));\n";
  for (size_t i = 0; i < m.inputs.size(); ++i)
    os << "static uint8_t input" << i << "["
       << std::max<int64_t>(1, m.inputs[i].sizeInBytes())
       << "] __attribute__((aligned(EMBER_MODEL_ALIGNMENT)));\n";
  for (size_t i = 0; i < m.outputs.size(); ++i)
    os << "static uint8_t output" << i << "["
       << std::max<int64_t>(1, m.outputs[i].sizeInBytes())
       << "] __attribute__((aligned(EMBER_MODEL_ALIGNMENT)));\n";
  os << "static void *const inputs[] = {";
  for (size_t i = 0; i < m.inputs.size(); ++i)
    os << "input" << i << ", ";
  os << "0};\nstatic void *const outputs[] = {";
  for (size_t i = 0; i < m.outputs.size(); ++i)
    os << "output" << i << ", ";
  os << "0};\n";
  os << R"(
/* Arm semihosting: the operation in r0, its argument block in r1. */
static int semihost(int op, void *arg) {
  register int r0 __asm__("r0") = op;
  register void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}
#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE0 0x04
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_FLEN 0x0C
#define SYS_EXIT 0x18

static size_t length(const char *s) {
  size_t n = 0;
  while (s[n])
    ++n;
  return n;
}
static void say(const char *s) { semihost(SYS_WRITE0, (void *)s); }
static void sayNumber(uint32_t v) {
  char buf[12];
  int i = 11;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  say(buf + i);
}
static void sayNumber64(uint64_t v) {
  char buf[24];
  int i = 23;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v);
  say(buf + i);
}
/* SysTick counting the core clock down from 2^24 - 1, its wraps counted by
 * startup.c's handler: the clock cycles of a run (under QEMU with -icount
 * shift=0, one nanosecond of the board's clock per instruction). */
extern volatile uint32_t ember_example_systick_wraps;
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
static void tickStart(void) {
  SYST_RVR = 0xFFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 7; /* the core clock, the wrap interrupt, on */
  while (SYST_CVR == 0) /* until it has loaded RVR */
    ;
}
static uint64_t ticks(void) {
  uint32_t w, v;
  do {
    w = ember_example_systick_wraps;
    v = SYST_CVR;
  } while (w != ember_example_systick_wraps);
  return ((uint64_t)w << 24) + (0xFFFFFFu - v);
}
/* Stops the machine: QEMU exits 0 for an application exit, 1 otherwise. */
void ember_example_exit(int ok) {
  semihost(SYS_EXIT, (void *)(uintptr_t)(ok ? 0x20026 : 0x20023));
  for (;;)
    ;
}

/* Reads `path` (exactly `bytes` bytes) into dst; 0 when it cannot. */
static int readFile(const char *path, void *dst, uint32_t bytes) {
  uint32_t open[3] = {(uint32_t)(uintptr_t)path, 1 /* "rb" */,
                      (uint32_t)length(path)};
  int h = semihost(SYS_OPEN, open);
  if (h < 0)
    return 0;
  uint32_t len[1] = {(uint32_t)h};
  int ok = semihost(SYS_FLEN, len) == (int)bytes;
  uint32_t rd[3] = {(uint32_t)h, (uint32_t)(uintptr_t)dst, bytes};
  ok = ok && semihost(SYS_READ, rd) == 0;
  semihost(SYS_CLOSE, len);
  return ok;
}
static int writeFile(const char *path, const void *src, uint32_t bytes) {
  uint32_t open[3] = {(uint32_t)(uintptr_t)path, 5 /* "wb" */,
                      (uint32_t)length(path)};
  int h = semihost(SYS_OPEN, open);
  if (h < 0)
    return 0;
  uint32_t wr[3] = {(uint32_t)h, (uint32_t)(uintptr_t)src, bytes};
  int ok = semihost(SYS_WRITE, wr) == 0;
  uint32_t cl[1] = {(uint32_t)h};
  semihost(SYS_CLOSE, cl);
  return ok;
}

/* The stack's untouched words still hold startup.c's pattern. */
extern uint32_t __StackLimit[], __StackTop[];
#define STACK_PATTERN 0x5A5AA5A5u
static uint32_t stackUsed(void) {
  const uint32_t *p = __StackLimit;
  while (p < __StackTop && *p == STACK_PATTERN)
    ++p;
  return (uint32_t)((uintptr_t)__StackTop - (uintptr_t)p);
}

int main(void) {
  char name[16] = "input0.bin";
  int i;
  for (i = 0; i < EMBER_MODEL_NUM_INPUTS; ++i) {
    name[5] = (char)('0' + i % 10);
    if (!readFile(name, inputs[i], (uint32_t)ember_model_input_bytes[i])) {
      say("error: cannot read ");
      say(name);
      say("\n");
      return 1;
    }
  }
  tickStart();
  uint64_t t0 = ticks();
  int32_t status = ember_main(ember_model_weights, arena, (void **)inputs,
                              (void **)outputs);
  uint64_t t1 = ticks();
  if (status) {
    say("error: ember_main returned ");
    sayNumber((uint32_t)status);
    say("\n");
    return 1;
  }
  for (i = 0; i < EMBER_MODEL_NUM_OUTPUTS; ++i) {
    char out[16] = "output0.bin";
    out[6] = (char)('0' + i % 10);
    if (!writeFile(out, outputs[i], (uint32_t)ember_model_output_bytes[i])) {
      say("error: cannot write ");
      say(out);
      say("\n");
      return 1;
    }
  }
  say("ok: arena=");
  sayNumber(EMBER_MODEL_ARENA_BYTES);
  say(" stack=");
  sayNumber(stackUsed());
  say(" systick=");
  sayNumber64(t1 - t0);
  say("\n");
  return 0;
}
)";
  (void)b.cpu;
  return os.str();
}

std::string mcuStartup() {
  return R"(/* Startup for the example program of an Ember microcontroller bundle
 * (any Cortex-M; link.ld places the sections): the vector table, a reset
 * handler that loads .data, clears .bss, turns the FPU (and Helium) on and
 * fills the stack with a pattern (main.c measures how deep it went), the
 * SysTick wrap count main.c times the run with, and fault handlers that
 * stop the machine with a failure. */
#include <stdint.h>

extern uint32_t __data_load__[], __data_start__[], __data_end__[];
extern uint32_t __bss_start__[], __bss_end__[], __StackLimit[], __StackTop[];
extern int main(void);
extern void ember_example_exit(int ok);

void Reset_Handler(void) {
  uint32_t *s = __data_load__, *d = __data_start__;
  while (d < __data_end__)
    *d++ = *s++;
  for (d = __bss_start__; d < __bss_end__; ++d)
    *d = 0;
  /* CPACR: full access to CP10/CP11 (the FPU; on v8.1-M also MVE). */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n isb" ::: "memory");
  uint32_t *sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (d = __StackLimit; d < sp - 16; ++d)
    *d = 0x5A5AA5A5u;
  ember_example_exit(main() == 0);
}

volatile uint32_t ember_example_systick_wraps;
static void SysTick_Handler(void) { ++ember_example_systick_wraps; }

static void Fault_Handler(void) {
  static const char msg[] = "error: fault\n";
  register int r0 __asm__("r0") = 0x04;
  register const char *r1 __asm__("r1") = msg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  ember_example_exit(0);
}

__attribute__((section(".vectors"), used)) void (*const ember_vectors[16])(
    void) = {
    (void (*)(void))__StackTop, Reset_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler,              Fault_Handler, Fault_Handler, Fault_Handler,
    0,                          0,             0,             Fault_Handler,
    Fault_Handler,              0,             Fault_Handler, SysTick_Handler,
};
)";
}

std::string mcuLinkerScript(const llvm::Triple &t) {
  const Board b = boardOf(t);
  std::ostringstream os;
  os << "/* The example program's memory on QEMU's " << b.qemu << " (" << b.cpu
     << "):\n"
        " * code and constants (the weights included) in "
     << b.flash << ", the\n * arena, buffers and stack in " << b.ram
     << ". Another board: change MEMORY. */\n"
        "MEMORY\n{\n"
     << b.memory
     << "}\n"
        "STACK_SIZE = DEFINED(STACK_SIZE) ? STACK_SIZE : 0x4000;\n"
        "ENTRY(Reset_Handler)\n"
        "SECTIONS\n{\n"
        "  .vectors : { KEEP(*(.vectors)) } > "
     << b.vectors
     << "\n"
        "  .text : { *(.text*) } > "
     << b.flash
     << "\n"
        "  .rodata : { . = ALIGN(64); *(.rodata*) } > "
     << b.flash
     << "\n"
        "  .ARM.exidx : { *(.ARM.exidx*) } > "
     << b.flash
     << "\n"
        "  .data : { . = ALIGN(4); __data_start__ = .; *(.data*); "
        ". = ALIGN(4); __data_end__ = .; } > "
     << b.ram << " AT > " << b.flash
     << "\n"
        "  __data_load__ = LOADADDR(.data);\n"
        "  .bss (NOLOAD) : { . = ALIGN(4); __bss_start__ = .; *(.bss*) "
        "*(COMMON); . = ALIGN(4); __bss_end__ = .; } > "
     << b.ram
     << "\n"
        "  __StackTop = ORIGIN("
     << b.ram << ") + LENGTH(" << b.ram
     << ");\n"
        "  __StackLimit = __StackTop - STACK_SIZE;\n"
        "  ASSERT(__bss_end__ <= __StackLimit, \"the buffers and the stack do "
        "not fit in "
     << b.ram << "\")\n}\n";
  return os.str();
}

} // namespace ember::cpugen
