pub mod bench;
pub mod bench_routing;
pub mod emit;
pub mod keys;
pub mod org;
pub mod render;
pub mod serve;
