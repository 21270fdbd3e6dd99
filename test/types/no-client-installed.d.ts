// Stands in for ioredis and redis (node-redis) in the type test: a module that exports nothing, as if the
// client libraries were not installed. Declarations that import anything from them fail to compile.
export {};
