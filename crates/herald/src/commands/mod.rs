pub mod bench;
pub mod emit;
pub mod keys;
pub mod org;
pub mod render;
pub mod serve;
