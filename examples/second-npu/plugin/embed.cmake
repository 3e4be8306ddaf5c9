# Writes the file IN as a C++ raw string literal to OUT (the plugin compiles
# its target description in).
file(READ ${IN} _text)
file(WRITE ${OUT} "R\"snpu(${_text})snpu\"\n")
