"""Writes a graph-IR function of one int8 convolution (ConvInteger, bias,
per-channel Requantize) with deterministic weights:
    conv_graph.py C K H W KERNEL STRIDE [BATCH] > conv.eir
"""
import random, sys
C,K,H,W,k,s = map(int, sys.argv[1:7])
N = int(sys.argv[7]) if len(sys.argv) > 7 else 1
random.seed(1)
OH=(H-k)//s+1; OW=(W-k)//s+1
w=[random.randint(-100,100) for _ in range(K*C*k*k)]
b=[random.randint(-50,50) for _ in range(K)]
m=[1300000000+1000*i for i in range(K)]
sh=[-9]*K
print(f"func @main(%x: u8[{N},{C},{H},{W}]) {{")
print(f"  %w = Constant dense<i8[{K},{C},{k},{k}]: [{', '.join(map(str,w))}]>")
print(f"  %b = Constant dense<i32[1,{K},1,1]: [{', '.join(map(str,b))}]>")
print(f"  %m = Constant dense<i32[{K}]: [{', '.join(map(str,m))}]>")
print(f"  %s = Constant dense<i32[{K}]: [{', '.join(map(str,sh))}]>")
print("  %zp = Constant dense<u8[]: [3]>")
print("  %yzp = Constant dense<u8[]: [128]>")
print(f"  %c = ConvInteger(%x, %w, %zp) {{kernel_shape = [{k}, {k}], strides = [{s}, {s}]}} : i32[{N},{K},{OH},{OW}] loc(\"conv\")")
print(f"  %cb = Add(%c, %b) : i32[{N},{K},{OH},{OW}] loc(\"conv\")")
print(f"  %r = Requantize(%cb, %m, %s, _, %yzp) {{axis = 1, to = 2}} : u8[{N},{K},{OH},{OW}] loc(\"conv\")")
print("  return %r")
print("}")
