//! sockscope binary: parse arguments, pick the mode, map errors to exit codes.
fn main() {}
