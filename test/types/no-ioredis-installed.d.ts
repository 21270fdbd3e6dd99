// Stands in for ioredis in the type test: a module that exports nothing, as if ioredis were not installed.
// Declarations that import anything from ioredis fail to compile against it.
export {};
