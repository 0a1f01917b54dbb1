// Declarations only; libFuzzer (linked by -sanitize=fuzzer) provides the symbol.
